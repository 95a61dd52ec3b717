"""The built-in DeepRacer simulator: tracks, a kinematic car, rendered sensors, the image's rules.

It lets a reward function or a model be tried in seconds without Gazebo. It is not the image's
simulator: see docs/simulator.md for what carries over and what does not.
"""
from markov.sim.env import DeepRacerEnv, make_env
from markov.sim.track import Track
from markov.sim.track_library import BUILTIN_TRACKS, DEFAULT_TRACK, load_track
from markov.sim import gym_env

gym_env.register()  # gymnasium.make("DeepRacer-v0") after ``import markov.sim``, or "markov.sim:DeepRacer-v0"

__all__ = ["DeepRacerEnv", "make_env", "Track", "load_track", "BUILTIN_TRACKS", "DEFAULT_TRACK"]
