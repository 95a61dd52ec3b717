"""Coach episodes shaped like the image's, tagged so that tests can tell them apart."""
from __future__ import annotations

import numpy as np
from rl_coach.core_types import Episode, Transition

CAMERA = "FRONT_FACING_CAMERA"


def make_episode(tag: int, steps: int = 5, height: int = 120, width: int = 160, progress: float | None = None) -> Episode:
    """An episode whose frames all hold ``tag`` (so a test can tell episodes apart) and rewards 1..steps."""
    episode = Episode()
    for step in range(steps):
        info = {"progress": progress} if progress is not None and step == steps - 1 else {}
        episode.insert(Transition(
            state={CAMERA: np.full((height, width, 1), tag % 256, np.uint8)},
            action=np.int64(step % 3), reward=float(step + 1),
            next_state={CAMERA: np.full((height, width, 1), tag % 256, np.uint8)},
            game_over=step == steps - 1, info=info))
    return episode


def episode_tags(transitions) -> list[int]:
    """The tag of each episode, in the order the transitions arrived (one entry per game_over)."""
    return [int(np.asarray(t.state[CAMERA]).flat[0]) for t in transitions if t.game_over]
