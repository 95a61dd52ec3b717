"""The car: a kinematic bicycle with DeepRacer's size, limits and 15 Hz control rate.

Actions are what model_metadata.json declares: an index into a discrete list, or a
(steering degrees, speed m/s) pair for a continuous space. The image clips every command to
+-30 degrees and 0.1..4 m/s before it reaches the wheels (``agent_ctrl/constants.py``), and so
does this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from markov.errors import ConfigError
from markov.model_metadata import ContinuousActionSpace, ModelMetadata

STEPS_PER_SECOND = 15
MAX_STEERING_DEG = 30.0
MIN_SPEED = 0.1
MAX_SPEED = 4.0


@dataclass(frozen=True)
class CarSpec:
    """Dimensions and response of the car (1/18 scale DeepRacer).

    Attributes:
        wheelbase: front to rear axle, metres.
        wheel_track: left to right wheel centres, metres.
        front_offset: the point the image reports as the car's position (x, y, progress) sits
            this far ahead of the car's origin (``RELATIVE_POSITION_OF_FRONT_OF_CAR``).
        speed_time_constant: first-order lag of the speed towards the command, seconds
            (Gazebo's wheel controllers do not reach a new speed instantly); 0 = instant.
    """

    wheelbase: float = 0.165
    wheel_track: float = 0.16
    length: float = 0.365
    width: float = 0.225
    front_offset: float = 0.14
    speed_time_constant: float = 0.1


@dataclass
class CarState:
    """Pose of the car's origin (midway between the axles) and its current speed."""

    x: float
    y: float
    yaw: float
    speed: float = 0.0
    steering: float = 0.0  # radians, left positive

    def front_point(self, spec: CarSpec) -> tuple[float, float]:
        return (self.x + spec.front_offset * math.cos(self.yaw),
                self.y + spec.front_offset * math.sin(self.yaw))

    def wheel_points(self, spec: CarSpec) -> tuple[np.ndarray, np.ndarray]:
        """x and y of the four wheel contacts: front-left, front-right, rear-left, rear-right."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        fx = np.array([1.0, 1.0, -1.0, -1.0]) * (spec.wheelbase / 2.0)
        fy = np.array([1.0, -1.0, 1.0, -1.0]) * (spec.wheel_track / 2.0)
        return self.x + c * fx - s * fy, self.y + s * fx + c * fy


def advance(state: CarState, spec: CarSpec, steering_deg: float, target_speed: float,
            dt: float = 1.0 / STEPS_PER_SECOND) -> CarState:
    """Drive for ``dt`` seconds with a fixed steering angle and speed command.

    The rear axle follows an exact circular arc (or a straight line) at the mean speed of
    the step.
    """
    if spec.speed_time_constant > 0:
        blend = 1.0 - math.exp(-dt / spec.speed_time_constant)
        new_speed = state.speed + (target_speed - state.speed) * blend
        v = 0.5 * (state.speed + new_speed)
    else:
        new_speed = v = target_speed
    delta = math.radians(steering_deg)
    half = spec.wheelbase / 2.0
    rx = state.x - half * math.cos(state.yaw)
    ry = state.y - half * math.sin(state.yaw)
    dist = v * dt
    turn = dist * math.tan(delta) / spec.wheelbase
    if abs(turn) < 1e-9:
        rx += dist * math.cos(state.yaw)
        ry += dist * math.sin(state.yaw)
        yaw = state.yaw
    else:
        radius = dist / turn
        yaw = state.yaw + turn
        rx += radius * (math.sin(yaw) - math.sin(state.yaw))
        ry -= radius * (math.cos(yaw) - math.cos(state.yaw))
    yaw = (yaw + math.pi) % (2.0 * math.pi) - math.pi
    return CarState(x=rx + half * math.cos(yaw), y=ry + half * math.sin(yaw), yaw=yaw,
                    speed=new_speed, steering=delta)


class ActionDecoder:
    """Turns the policy's action into (steering degrees, speed m/s, simtrace action text).

    Discrete spaces take an index. Continuous spaces take (steering, speed) in the JSON's
    units, as the image's environment receives them (Coach's scalable box space has already
    rescaled PPO's [-1, 1] output); ``from_normalized`` does that rescaling for callers that
    hold the raw network output.
    """

    def __init__(self, metadata: ModelMetadata) -> None:
        self.metadata = metadata
        self.is_discrete = metadata.is_discrete
        if self.is_discrete:
            self.actions = metadata.action_space
        else:
            self.space: ContinuousActionSpace = metadata.action_space

    def decode(self, action) -> tuple[float, float, str | int]:
        if self.is_discrete:
            try:
                index = int(np.asarray(action).reshape(-1)[0]) if not isinstance(action, (int, np.integer)) else int(action)
            except (TypeError, ValueError, IndexError):
                raise ConfigError(f"action {action!r}: expected an index into the discrete action space") from None
            if not 0 <= index < len(self.actions):
                raise ConfigError(f"action {index}: outside the action space (0..{len(self.actions) - 1})")
            chosen = self.actions[index]
            steering, speed, label = chosen.steering_angle, chosen.speed, index
        else:
            values = np.asarray(action, dtype=np.float64).reshape(-1)
            if values.size != 2 or not np.all(np.isfinite(values)):
                raise ConfigError(f"action {action!r}: expected [steering_angle, speed] for a continuous space")
            steering = min(max(values[0], self.space.steering_low), self.space.steering_high)
            speed = min(max(values[1], self.space.speed_low), self.space.speed_high)
            label = f"[{values[0]} {values[1]}]"  # the image's simtrace text for continuous actions
        return float(steering), float(speed), label

    def from_normalized(self, action: Sequence[float]) -> np.ndarray:
        """Rescale a [-1, 1] pair to the JSON bounds (PPO continuous, docs/protocol.md §2)."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        sp = self.space
        return np.array([sp.steering_low + (a[0] + 1.0) / 2.0 * (sp.steering_high - sp.steering_low),
                         sp.speed_low + (a[1] + 1.0) / 2.0 * (sp.speed_high - sp.speed_low)])

    def nearest(self, steering_deg: float, speed: float) -> int | np.ndarray:
        """The action closest to a wanted steering angle and speed (for scripted drivers)."""
        if self.is_discrete:
            cost = [abs(a.steering_angle - steering_deg) / 60.0 + abs(a.speed - speed) / 4.0 for a in self.actions]
            return int(np.argmin(cost))
        sp = self.space
        return np.array([min(max(steering_deg, sp.steering_low), sp.steering_high),
                         min(max(speed, sp.speed_low), sp.speed_high)])


def clip_command(steering_deg: float, speed: float) -> tuple[float, float]:
    """The image's limits on what reaches the wheels."""
    return (min(max(steering_deg, -MAX_STEERING_DEG), MAX_STEERING_DEG),
            min(max(speed, MIN_SPEED), MAX_SPEED))
