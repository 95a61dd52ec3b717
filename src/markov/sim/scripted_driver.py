"""A scripted driver: follows the centre line with noise, so it visits the whole width of the road.

``reward-check`` uses it to show what a reward function pays without training anything. It
aims at a point ahead on a wandering offset from the centre (pure pursuit), adds steering
noise, and picks the model's nearest action, so discrete and continuous spaces both work.
"""
from __future__ import annotations

import math

import numpy as np

from markov.sim.env import DeepRacerEnv


class CenterLineDriver:
    """Pure pursuit of a noisy target around the centre line.

    Args:
        env: the environment it drives (it reads the car's pose and the track).
        lookahead: metres ahead of the car to aim at.
        offset_scale: how far (fraction of half the width) the aim wanders from the centre.
        steering_noise: standard deviation of added steering, degrees.
        speed: wanted speed, m/s (None: the middle of the action space's speeds).
        seed: random seed.
    """

    def __init__(self, env: DeepRacerEnv, lookahead: float = 0.6, offset_scale: float = 1.0,
                 steering_noise: float = 6.0, speed: float | None = None, seed: int | None = None) -> None:
        self.env = env
        self.lookahead = lookahead
        self.offset_scale = offset_scale
        self.steering_noise = steering_noise
        self.rng = np.random.default_rng(seed)
        if speed is None:
            meta = env.metadata
            if meta.is_discrete:
                speeds = [a.speed for a in meta.action_space]
                speed = float(np.median(speeds))
            else:
                speed = 0.5 * (meta.action_space.speed_low + meta.action_space.speed_high)
        self.speed = speed
        self._offset = 0.0

    def reset(self) -> None:
        self._offset = 0.0

    def act(self):
        """The next action for the env's current state."""
        env, state = self.env, self.env.state
        track = env.track
        # A slow random walk of the aim across the road, held inside it.
        half = track.width / 2.0
        self._offset = float(np.clip(0.95 * self._offset + self.rng.normal(0.0, 0.2 * half),
                                     -self.offset_scale * half, self.offset_scale * half))
        s = track.project(*state.front_point(env.car_spec)).distance
        tx, ty, tyaw = track.pose_at(s + self.lookahead)
        tx -= self._offset * math.sin(tyaw)
        ty += self._offset * math.cos(tyaw)
        alpha = math.atan2(ty - state.y, tx - state.x) - state.yaw
        alpha = (alpha + math.pi) % (2.0 * math.pi) - math.pi
        distance = math.hypot(tx - state.x, ty - state.y)
        steer = math.degrees(math.atan2(2.0 * env.car_spec.wheelbase * math.sin(alpha), distance))
        steer += self.rng.normal(0.0, self.steering_noise)
        return env.actions.nearest(steer, self.speed)
