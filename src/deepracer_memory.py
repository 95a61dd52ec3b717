"""The Redis memory backends under the module name the simulation image uses.

Coach's graph manager calls ``memory_backend.fetch(num_consecutive_playing_steps)`` on the trainer
and iterates transitions; Coach's memories call ``store`` on the rollout. The logic lives in
``markov.memory`` (channels, safe decoding, reconnects); these classes only give it Coach's
``MemoryBackend`` type and the image's names.
"""
from __future__ import annotations

from rl_coach.memories.backend.memory import MemoryBackend

from markov.memory.rollout_backend import RolloutBackend
from markov.memory.trainer_backend import FetchStats, TrainerBackend, max_memory_steps_for

__all__ = ["DeepRacerTrainerBackEnd", "DeepRacerRolloutBackEnd", "FetchStats", "max_memory_steps_for"]


class DeepRacerTrainerBackEnd(TrainerBackend, MemoryBackend):
    """Trainer side: ``fetch(N)`` yields one iteration's transitions. See ``TrainerBackend``."""

    def store(self, obj: object) -> None:
        raise TypeError("the trainer backend receives episodes; store() belongs to the rollout backend")

    store_episode = store


class DeepRacerRolloutBackEnd(RolloutBackend, MemoryBackend):
    """Rollout side: ``store(episode)`` keeps an episode and serves it on request. See ``RolloutBackend``."""

    def fetch(self, num_steps: object = 0) -> None:
        raise TypeError("the rollout backend sends episodes; fetch() belongs to the trainer backend")
