"""model_metadata.json: the one description of a model that both sides must read the same way.

The rollout worker parses the *user's* file itself (docs/protocol.md §1.5), so this parser follows the
simulation image's rules exactly (§2): defaults, version handling, allowed sensor combinations.
Where the image silently accepts nonsense (an empty action space, ``low >= high``), we refuse it
with a line that names the file and the key, because the image would only fail later and worse.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union

from markov.errors import ConfigError

# Sensor names (docs/protocol.md §2). `observation` is the pre-2020 single camera input.
FRONT_FACING_CAMERA = "FRONT_FACING_CAMERA"
LEFT_CAMERA = "LEFT_CAMERA"
STEREO_CAMERAS = "STEREO_CAMERAS"
LIDAR = "LIDAR"
SECTOR_LIDAR = "SECTOR_LIDAR"
DISCRETIZED_SECTOR_LIDAR = "DISCRETIZED_SECTOR_LIDAR"
OBSERVATION = "observation"

CAMERA_SENSORS = (FRONT_FACING_CAMERA, LEFT_CAMERA, STEREO_CAMERAS, OBSERVATION)
LIDAR_SENSORS = (LIDAR, SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR)
ALL_SENSORS = CAMERA_SENSORS + LIDAR_SENSORS

SHALLOW = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEEP = "DEEP_CONVOLUTIONAL_NETWORK"
DEEPER = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
NETWORKS = (SHALLOW, DEEP, DEEPER)

CLIPPED_PPO = "clipped_ppo"
SAC = "sac"
ALGORITHMS = (CLIPPED_PPO, SAC)

DISCRETE = "discrete"
CONTINUOUS = "continuous"

LIDAR_SAMPLES = 64


@dataclass(frozen=True)
class DiscreteAction:
    """One entry of a discrete action space: steering in degrees, speed in m/s."""

    steering_angle: float
    speed: float


@dataclass(frozen=True)
class ContinuousActionSpace:
    """Bounds of a continuous action space (degrees and m/s)."""

    steering_low: float
    steering_high: float
    speed_low: float
    speed_high: float


@dataclass(frozen=True)
class LidarConfig:
    """``lidar_config``; only DISCRETIZED_SECTOR_LIDAR reads it (image defaults 8, 8, 2.0)."""

    num_sectors: int = 8
    num_values_per_sector: int = 8
    clipping_dist: float = 2.0


ActionSpace = Union[tuple, ContinuousActionSpace]


@dataclass(frozen=True)
class ModelMetadata:
    """A parsed and validated model_metadata.json."""

    action_space: ActionSpace
    action_space_type: str
    training_algorithm: str
    neural_network: str
    sensors: tuple[str, ...]
    lidar_config: LidarConfig
    version: float
    source: str = "model_metadata.json"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_discrete(self) -> bool:
        return self.action_space_type == DISCRETE

    @property
    def num_actions(self) -> int:
        """Number of discrete actions, or the dimension (2) of a continuous space."""
        return len(self.action_space) if self.is_discrete else 2

    @property
    def lidar_sensor(self) -> str | None:
        return next((s for s in self.sensors if s in LIDAR_SENSORS), None)

    @property
    def default_action_index(self) -> int:
        """The image's default action: the first entry that steers straight (else 0)."""
        if not self.is_discrete:
            return 0
        return next((i for i, a in enumerate(self.action_space) if a.steering_angle == 0), 0)


def load_model_metadata(path: str | Path) -> ModelMetadata:
    """Read and validate a model_metadata.json file.

    Raises:
        ConfigError: naming the file and the key at fault, for a missing file, bad JSON or a
            bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: model_metadata.json not found; pass an existing file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read model_metadata.json ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return parse_model_metadata(data, source=str(path))


def parse_model_metadata(data: Any, source: str = "model_metadata.json") -> ModelMetadata:
    """Validate a model_metadata dict with the simulation image's rules (docs/protocol.md §2)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level, got {type(data).__name__}")

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: '{key}' {problem}")

    action_space_type = str(data.get("action_space_type", DISCRETE)).strip().lower()
    if action_space_type not in (DISCRETE, CONTINUOUS):
        raise fail("action_space_type", f"is {data.get('action_space_type')!r}; allowed: 'discrete', 'continuous'")
    algorithm = str(data.get("training_algorithm", CLIPPED_PPO)).strip().lower()
    if algorithm not in ALGORITHMS:
        raise fail("training_algorithm", f"is {data.get('training_algorithm')!r}; allowed: 'clipped_ppo', 'sac'")
    if algorithm == SAC and action_space_type != CONTINUOUS:
        raise fail("training_algorithm", "is 'sac', which needs \"action_space_type\": \"continuous\"")

    if "action_space" not in data:
        raise fail("action_space", "is missing; add a list of {steering_angle, speed} actions")
    action_space = _parse_action_space(data["action_space"], action_space_type, fail)

    network = data.get("neural_network", SHALLOW)
    if network not in NETWORKS:
        raise fail("neural_network", f"is {network!r}; allowed: {', '.join(NETWORKS)}")

    version, sensors = _parse_version_and_sensors(data, fail)
    if OBSERVATION in sensors:
        network = SHALLOW  # the pre-2020 input always used the shallow table (§3.2)

    lidar_config = _parse_lidar_config(data.get("lidar_config"), fail)
    return ModelMetadata(
        action_space=action_space,
        action_space_type=action_space_type,
        training_algorithm=algorithm,
        neural_network=network,
        sensors=sensors,
        lidar_config=lidar_config,
        version=version,
        source=source,
        raw=dict(data),
    )


def _number(value: Any, key: str, fail) -> float:
    if isinstance(value, bool):
        raise fail(key, f"is {value!r}; expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise fail(key, f"is {value!r}; expected a number") from None
    if not math.isfinite(number):
        raise fail(key, f"is {value!r}; expected a finite number")
    return number


def _parse_action_space(raw: Any, action_space_type: str, fail) -> ActionSpace:
    if action_space_type == DISCRETE:
        if not isinstance(raw, list):
            raise fail("action_space", "must be a list of {steering_angle, speed} objects for a discrete space")
        if not raw:
            raise fail("action_space", "has no actions; add at least one {steering_angle, speed} entry")
        actions = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or "steering_angle" not in entry or "speed" not in entry:
                raise fail(f"action_space[{i}]", "must be an object with 'steering_angle' and 'speed'")
            actions.append(
                DiscreteAction(
                    steering_angle=_number(entry["steering_angle"], f"action_space[{i}].steering_angle", fail),
                    speed=_number(entry["speed"], f"action_space[{i}].speed", fail),
                )
            )
        return tuple(actions)
    if not isinstance(raw, dict):
        raise fail("action_space", "must be {\"steering_angle\": {low, high}, \"speed\": {low, high}} for a continuous space")
    bounds = {}
    for name in ("steering_angle", "speed"):
        part = raw.get(name)
        if not isinstance(part, dict) or "low" not in part or "high" not in part:
            raise fail(f"action_space.{name}", "must be an object with 'low' and 'high'")
        low = _number(part["low"], f"action_space.{name}.low", fail)
        high = _number(part["high"], f"action_space.{name}.high", fail)
        if not low < high:
            raise fail(f"action_space.{name}", f"has low={low} >= high={high}; low must be below high")
        bounds[name] = (low, high)
    return ContinuousActionSpace(*bounds["steering_angle"], *bounds["speed"])


def _parse_version_and_sensors(data: dict, fail) -> tuple[float, tuple[str, ...]]:
    raw_sensors = data.get("sensor")
    if "version" in data:
        version = _number(data["version"], "version", fail)
        if version < 2:
            return version, (OBSERVATION,)  # v1 ignores 'sensor' (§2 "Version")
        if raw_sensors is None:
            raise fail("sensor", f"is missing; version {data['version']} needs a sensor list such as [\"FRONT_FACING_CAMERA\"]")
    elif raw_sensors is None:
        return 1.0, (OBSERVATION,)
    else:
        version = 2.0
    if isinstance(raw_sensors, str):
        raw_sensors = [raw_sensors]
    if not isinstance(raw_sensors, list) or not raw_sensors:
        raise fail("sensor", "must be a non-empty list of sensor names")
    for name in raw_sensors:
        if name not in ALL_SENSORS:
            raise fail("sensor", f"holds unknown sensor {name!r}; allowed: {', '.join(ALL_SENSORS)}")
    sensors = tuple(dict.fromkeys(raw_sensors))
    cameras = [s for s in sensors if s in CAMERA_SENSORS]
    lidars = [s for s in sensors if s in LIDAR_SENSORS]
    if len(cameras) != 1:
        raise fail("sensor", f"must hold exactly one camera ({', '.join(CAMERA_SENSORS)}); it holds {cameras or 'none'}")
    if len(lidars) > 1:
        raise fail("sensor", f"may hold at most one lidar sensor; it holds {lidars}")
    return version, sensors


def _parse_lidar_config(raw: Any, fail) -> LidarConfig:
    if raw is None:
        return LidarConfig()
    if not isinstance(raw, dict):
        raise fail("lidar_config", "must be an object with num_sectors, num_values_per_sector, clipping_dist")
    defaults = LidarConfig()
    sectors = raw.get("num_sectors", defaults.num_sectors)
    values = raw.get("num_values_per_sector", defaults.num_values_per_sector)
    clip = _number(raw.get("clipping_dist", defaults.clipping_dist), "lidar_config.clipping_dist", fail)
    if not isinstance(sectors, int) or isinstance(sectors, bool) or sectors < 1 or LIDAR_SAMPLES % sectors:
        raise fail("lidar_config.num_sectors", f"is {sectors!r}; it must be a positive divisor of {LIDAR_SAMPLES}")
    if not isinstance(values, int) or isinstance(values, bool) or values < 1:
        raise fail("lidar_config.num_values_per_sector", f"is {values!r}; it must be an integer >= 1")
    if clip <= 0:
        raise fail("lidar_config.clipping_dist", f"is {clip}; it must be > 0 metres")
    return LidarConfig(num_sectors=sectors, num_values_per_sector=values, clipping_dist=clip)
