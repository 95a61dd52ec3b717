"""Tiny environments in the old gym API (seed, observation-only reset, 4-tuple step) for Coach graphs.

Given to Coach as ``level='<this file>:<Class>'`` so that GymEnvironment skips ``gym.make``.
"""
import gym
import numpy as np
from gym import spaces

IMAGE_SHAPE = (36, 48, 1)


class TinyImageEnv(gym.Env):
    """A 36x48 grayscale camera and five discrete steering choices."""

    observation_space = spaces.Box(low=0, high=255, shape=IMAGE_SHAPE, dtype=np.uint8)
    action_space = spaces.Discrete(5)

    def __init__(self):
        self.random = np.random.RandomState(0)

    def seed(self, seed=None):
        self.random = np.random.RandomState(seed)
        return [seed]

    def reset(self):
        return self.random.randint(0, 256, IMAGE_SHAPE).astype(np.uint8)

    def step(self, action):
        return self.reset(), 1.0, False, {}


class TinyContinuousImageEnv(TinyImageEnv):
    """The same camera with a continuous (steering, speed) action, as DeepRacer's SAC uses."""

    action_space = spaces.Box(low=np.array([-30.0, 0.5], dtype=np.float32),
                              high=np.array([30.0, 1.0], dtype=np.float32), dtype=np.float32)
