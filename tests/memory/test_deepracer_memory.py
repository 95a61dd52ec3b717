"""The image-named adapter is a Coach MemoryBackend that Coach's graph manager can fetch from."""
from __future__ import annotations

import pytest
from rl_coach.core_types import EnvironmentEpisodes
from rl_coach.memories.backend.memory import MemoryBackend

from deepracer_memory import DeepRacerRolloutBackEnd, DeepRacerTrainerBackEnd
from redis_episodes import episode_tags, make_episode


def test_adapters_are_coach_memory_backends_that_talk_to_each_other(redis_config):
    trainer = DeepRacerTrainerBackEnd(redis_config, "pfx")
    rollout = DeepRacerRolloutBackEnd(redis_config, "pfx", episodes_per_iteration=2)
    assert isinstance(trainer, MemoryBackend) and isinstance(rollout, MemoryBackend)
    try:
        rollout.start()
        for tag in (1, 2):
            rollout.store(make_episode(tag))  # what Coach's Memory.store_episode calls
        # What GraphManager.fetch_from_worker does with EnvironmentEpisodes(N).
        assert episode_tags(trainer.fetch(EnvironmentEpisodes(2))) == [1, 2]
    finally:
        rollout.close()
        trainer.close()


def test_wrong_direction_is_refused(redis_config):
    with pytest.raises(TypeError, match="rollout backend"):
        DeepRacerTrainerBackEnd(redis_config, "pfx").store(make_episode(1))
    with pytest.raises(TypeError, match="trainer backend"):
        DeepRacerRolloutBackEnd(redis_config, "pfx", episodes_per_iteration=1).fetch(1)
