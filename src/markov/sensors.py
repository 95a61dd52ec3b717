"""What each sensor hands the network: shape, dtype and range of its filtered observation (docs/protocol.md §3.1).

The simulator produces these observations, the graphs take them, the gym env declares them and
the exporters feed them: one place for the geometry, so the four cannot drift apart. The sensor
names, ``LIDAR_SAMPLES`` and ``LidarConfig`` are those of :mod:`markov.model_metadata`, which
validates a model's sensors against them.
"""
from __future__ import annotations

import numpy as np

from markov.model_metadata import (
    DISCRETIZED_SECTOR_LIDAR,
    FRONT_FACING_CAMERA,
    LEFT_CAMERA,
    LIDAR,
    LIDAR_SAMPLES,
    OBSERVATION,
    SECTOR_LIDAR,
    STEREO_CAMERAS,
    LidarConfig,
)

# Camera frames: 160x120 grayscale (RGB->Y, uint8), one stacked frame; the stereo pair is two channels.
IMAGE_HEIGHT = 120
IMAGE_WIDTH = 160
CAMERA_CHANNELS = 1
STEREO_CHANNELS = 2
IMAGE_SENSORS = (FRONT_FACING_CAMERA, LEFT_CAMERA, OBSERVATION, STEREO_CAMERAS)

# LIDAR: LIDAR_SAMPLES ranges clipped to [0.15, 1.0] m.
LIDAR_CLIP = (0.15, 1.0)
# SECTOR_LIDAR: the sector discretiser with fixed settings, 8 sectors of one 0/1 value, clipping 0.5 m.
SECTOR_LIDAR_CONFIG = LidarConfig(num_sectors=8, num_values_per_sector=1, clipping_dist=0.5)
_DEFAULT_LIDAR_CONFIG = LidarConfig()  # the image's lidar_config defaults


def observation_shape(sensor: str, lidar_config: LidarConfig = _DEFAULT_LIDAR_CONFIG) -> tuple[int, ...]:
    """Shape of the *filtered* observation a transition carries for ``sensor``.

    ``lidar_config`` is the model's, read only for DISCRETIZED_SECTOR_LIDAR.

    Raises:
        KeyError: for a name that is not a sensor.
    """
    if sensor in (FRONT_FACING_CAMERA, LEFT_CAMERA, OBSERVATION):
        return (IMAGE_HEIGHT, IMAGE_WIDTH, CAMERA_CHANNELS)
    if sensor == STEREO_CAMERAS:
        return (IMAGE_HEIGHT, IMAGE_WIDTH, STEREO_CHANNELS)
    if sensor == LIDAR:
        return (LIDAR_SAMPLES,)
    if sensor == SECTOR_LIDAR:
        return (SECTOR_LIDAR_CONFIG.num_sectors * SECTOR_LIDAR_CONFIG.num_values_per_sector,)
    if sensor == DISCRETIZED_SECTOR_LIDAR:
        return (lidar_config.num_sectors * lidar_config.num_values_per_sector,)
    raise KeyError(sensor)


def observation_dtype(sensor: str) -> np.dtype:
    """uint8 for camera frames, float64 for lidar values, as the image's rollout sends them (§9)."""
    return np.dtype(np.uint8) if sensor in IMAGE_SENSORS else np.dtype(np.float64)
