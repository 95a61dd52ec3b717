"""The built-in simulator as a Gymnasium environment (``DeepRacer-v0``), for SB3, CleanRL and other libraries.

The Coach path (``deepracer-trainer local`` / ``rollout``) is the product and does not go
through this module; it exists so that other RL libraries can train on the same tracks, car,
sensors, rules and reward function. ``DeepRacerEnv`` already steps like Gymnasium; this class
adds the spaces, seeding and render modes that Gymnasium's API and ``check_env`` expect::

    import gymnasium
    env = gymnasium.make("markov.sim:DeepRacer-v0", track="reInvent2019_track", tracks_dir="bundle")
    vec = gymnasium.make_vec("markov.sim:DeepRacer-v0", num_envs=4, vectorization_mode="async")

Observations are a ``Dict`` keyed by the model's sensor names (``FRONT_FACING_CAMERA``: uint8
(120, 160, 1), ...), as the DeepRacer networks take them (docs/protocol.md §3.1); SB3 takes them
with ``MultiInputPolicy``. Actions are what model_metadata.json declares: ``Discrete(n)`` indices,
or for a continuous space a ``Box(-1, 1, (2,))`` that is rescaled to its (steering degrees, speed
m/s) bounds, as Coach's PPO output is (docs/protocol.md §2) and as SB3 and CleanRL expect.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import gymnasium
import numpy as np
from gymnasium import spaces

from markov import config
from markov.model_metadata import (
    DISCRETIZED_SECTOR_LIDAR, LIDAR, SECTOR_LIDAR, ModelMetadata, load_model_metadata,
)
from markov.sim.car import STEPS_PER_SECOND
from markov.sim.env import DeepRacerEnv
from markov.sensors import LIDAR_CLIP
from markov.sim.randomization import Randomization
from markov.sim.track import Track
from markov.sim.track_library import DEFAULT_TRACK

ENV_ID = "DeepRacer-v0"
ENTRY_POINT = "markov.sim.gym_env:DeepRacerGymEnv"
VECTOR_ENTRY_POINT = "markov.sim.gym_env:make_vector_env"


class DeepRacerGymEnv(gymnasium.Env):
    """``DeepRacerEnv`` with Gymnasium's spaces, seeding and rendering.

    Args:
        track: a built-in track name, an image track's name (with ``tracks_dir``), a route
            ``.npy``, or a Track.
        tracks_dir: a folder in the simulation image's layout to find ``track`` in (None: the
            ``DEEPRACER_TRACKS`` setting, read by markov.config as the commands read it; unset,
            only built-in tracks and route files).
        model_metadata: a ModelMetadata, a path to model_metadata.json, or None for the package
            default (front camera, five discrete actions).
        reward_function: a callable ``f(params) -> float``, a ``.py`` file, or None for the
            package default.
        render_mode: None or ``"rgb_array"`` (the front camera's view, (120, 160, 3) uint8).
        randomization: per-episode domain randomisation (markov.sim.randomization); off by default.
        start_position: where episodes start (see DeepRacerEnv). The default here is
            "random", drawn from the reset's seed, so that the environments of a vector env
            start apart; "round_robin" is the image's training rule.
        **sim_kwargs: passed to ``DeepRacerEnv`` (``max_steps``, ``direction``, ``simtrace``, ...).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": STEPS_PER_SECOND}

    def __init__(self, track: str | Path | Track = DEFAULT_TRACK, tracks_dir: str | Path | None = None,
                 model_metadata: ModelMetadata | str | Path | None = None,
                 reward_function: Callable[[dict], Any] | str | Path | None = None,
                 render_mode: str | None = None, randomization: Randomization | None = None,
                 start_position: str | float = "random", **sim_kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: allowed {self.metadata['render_modes']} or None")
        if model_metadata is not None and not isinstance(model_metadata, ModelMetadata):
            model_metadata = load_model_metadata(model_metadata)
        # An entry point like the CLI's commands, so it takes the same setting (markov.config).
        tracks_dir = config.tracks_dir(tracks_dir)
        if tracks_dir is not None:
            sim_kwargs["tracks_dir"] = tracks_dir
        if randomization is not None:
            sim_kwargs["randomization"] = randomization
        self.sim = DeepRacerEnv(model_metadata, track=track, reward_function=reward_function,
                                start_position=start_position, **sim_kwargs)
        self.render_mode = render_mode
        self.observation_space = observation_space(self.sim)
        self.action_space = action_space(self.sim.metadata)
        self._episode = -1

    # The simulator's info["episode"] counts every episode of its life; here it is
    # "episode_number", counted from the last seed (a seeded reset starts over). The key
    # "episode" belongs to wrappers such as RecordEpisodeStatistics and SB3's Monitor.
    def _info(self, info: dict) -> dict:
        info = dict(info)
        del info["episode"]
        info["episode_number"] = self._episode
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start an episode; a ``seed`` starts the simulator's episode sequence over (see DeepRacerEnv.reset)."""
        super().reset(seed=seed)
        self._episode = 0 if seed is not None else self._episode + 1
        observation, info = self.sim.reset(seed=seed, options=options)
        return observation, self._info(info)

    def step(self, action) -> tuple[dict, float, bool, bool, dict]:
        if not self.sim.metadata.is_discrete:
            action = self.sim.actions.from_normalized(action)
        observation, reward, terminated, truncated, info = self.sim.step(action)
        return observation, float(reward), terminated, truncated, self._info(info)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        frame = np.asarray(self.sim.render())
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        return frame

    def close(self) -> None:
        self.sim.close()


def observation_space(sim: DeepRacerEnv) -> spaces.Dict:
    """The Dict space of the simulator's observations, with each sensor's true bounds."""
    boxes = {}
    for name, (shape, dtype) in sim.observation_shapes.items():
        if dtype == np.uint8:
            boxes[name] = spaces.Box(0, 255, shape=shape, dtype=np.uint8)
        elif name == LIDAR:
            boxes[name] = spaces.Box(LIDAR_CLIP[0], LIDAR_CLIP[1], shape=shape, dtype=dtype)
        elif name in (SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR):
            boxes[name] = spaces.Box(0.0, 1.0, shape=shape, dtype=dtype)  # one-hot bins
        else:
            raise ValueError(f"no observation space for sensor {name}")
    return spaces.Dict(boxes)


def action_space(metadata: ModelMetadata) -> spaces.Space:
    """``Discrete(n)`` for a discrete action list; (steering, speed) scaled to [-1, 1] for a continuous space."""
    if metadata.is_discrete:
        return spaces.Discrete(metadata.num_actions)
    return spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def make_vector_env(num_envs: int = 1, asynchronous: bool = False, **kwargs: Any) -> gymnasium.vector.VectorEnv:
    """``num_envs`` DeepRacer environments stepped as one (Gymnasium's vector API).

    Args:
        num_envs: how many simulators.
        asynchronous: one process per simulator (``AsyncVectorEnv``), which uses that many cores;
            otherwise they step in turn in this process (``SyncVectorEnv``). The processes are
            spawned, not forked: a child forked from a process that has made a GL context (the
            mesh camera) deadlocks in the driver's locks.
        **kwargs: ``DeepRacerGymEnv``'s arguments, the same for each.

    ``reset(seed=s)`` seeds simulator ``i`` with ``s + i``, so their start positions and
    randomisation differ and repeat.
    """
    if int(num_envs) < 1:
        raise ValueError(f"num_envs {num_envs!r}: must be at least 1")
    factories = [lambda: DeepRacerGymEnv(**kwargs) for _ in range(int(num_envs))]
    if asynchronous:
        return gymnasium.vector.AsyncVectorEnv(factories, context="spawn")
    return gymnasium.vector.SyncVectorEnv(factories)


def register() -> None:
    """Register ``DeepRacer-v0`` with Gymnasium (done on ``import markov.sim``; repeat calls do nothing)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                           disable_env_checker=False)
