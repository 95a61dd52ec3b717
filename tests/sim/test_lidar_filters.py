"""Lidar ranges to the borders, and the image's lidar filters (docs/protocol.md §3.1)."""
import math

import numpy as np
import pytest

from markov.model_metadata import LidarConfig
from markov.sim.lidar import Lidar, clip_lidar, discretize_sectors
from markov.sim.track_library import oval


def test_ranges_to_the_borders_on_a_straight():
    lidar = Lidar(oval())
    ranges = lidar.ranges(0.0, -1.5, 0.0)  # centre of the bottom straight, heading +x
    assert ranges.shape == (64,)
    angles = lidar.angles
    side = np.abs(np.abs(angles) - math.pi / 2)
    left, right = np.argmin(np.where(angles > 0, side, 9)), np.argmin(np.where(angles < 0, side, 9))
    # Both borders are 0.535 m away; the nearest rays are a little off the perpendicular.
    assert ranges[left] == pytest.approx(0.535 / math.cos(angles[left] - math.pi / 2), abs=1e-9)
    assert ranges[right] == pytest.approx(0.535 / math.cos(angles[right] + math.pi / 2), abs=1e-9)
    # Rays that hit the straight's borders see the same on both sides: index 0 is -150 degrees.
    sideways = np.abs(angles) > math.radians(35)
    assert np.allclose(ranges[sideways], ranges[::-1][sideways])
    assert np.allclose(ranges[sideways], 0.535 / np.abs(np.sin(angles[sideways])))


def test_useful_range_reports_no_return_beyond_it():
    ranges = Lidar(oval(), useful_range=1.0).ranges(0.0, -1.5, 0.0)
    assert np.isinf(ranges).any() and np.nanmax(ranges[np.isfinite(ranges)]) <= 1.0
    assert clip_lidar(ranges).max() == 1.0 and clip_lidar(ranges).min() >= 0.535


def test_sector_discretiser_matches_the_image_rule():
    config = LidarConfig(num_sectors=4, num_values_per_sector=2, clipping_dist=0.5)  # bins of 0.25 m
    ranges = np.full(64, np.inf)
    ranges[0:16] = 0.1     # sector 0 nearest 0.1  -> bin 0
    ranges[16:32] = 0.3    # sector 1 nearest 0.3  -> bin 1
    ranges[32:48] = 0.6    # sector 2 beyond clip  -> "nothing", dropped
    ranges[50] = 0.25      # sector 3 nearest 0.25 -> bin 1 (floor(0.25 / 0.25) = 1)
    out = discretize_sectors(ranges, config)
    assert out.tolist() == [1, 0, 0, 1, 0, 0, 0, 1]
    assert out.dtype == np.float64


def test_sector_lidar_is_one_bit_per_sector_within_half_a_metre():
    config = LidarConfig(num_sectors=8, num_values_per_sector=1, clipping_dist=0.5)
    ranges = np.full(64, 3.0)
    ranges[9] = 0.49
    assert discretize_sectors(ranges, config).tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


def test_clipping_distance_is_held_within_the_sensor_range():
    # The image clamps clipping_dist to 0.15..12 m before binning.
    huge = LidarConfig(num_sectors=1, num_values_per_sector=1, clipping_dist=100.0)
    assert discretize_sectors(np.full(64, 20.0), huge).tolist() == [0]
    assert discretize_sectors(np.full(64, 11.0), huge).tolist() == [1]
