"""Lidar: 64 ranges over +-150 degrees to the track borders, and the image's lidar filters.

The image's Gazebo lidar (``sensors/constants.py``: 64 samples, -2.61799..2.61799 rad, 0.15..12 m)
sees walls and objects. On an image track the rays hit the world's walls (its collision mesh cut
at the lidar's height); the generated tracks have no walls, so there the painted borders act as
walls. The filters that turn raw ranges into what the networks take are implemented exactly as
docs/protocol.md §3.1 describes (clip for LIDAR; minimum per sector, clip, floor(d / (clip / v)),
one-hot without the "nothing" column for the sector sensors).
"""
from __future__ import annotations

import math

import numpy as np

from markov.model_metadata import LIDAR_SAMPLES, LidarConfig
from markov.sensors import LIDAR_CLIP
from markov.sim.track import Track

MIN_ANGLE = -2.61799
MAX_ANGLE = 2.61799
MIN_RANGE = 0.15
MAX_RANGE = 12.0



class Lidar:
    """Ray casting against the border polylines of a track.

    Args:
        track: the track whose inner and outer borders reflect.
        useful_range: ranges beyond this are reported as ``inf`` (no return). Every filter
            clips at or below it, so only segments that close need testing.
        forward: mounting position ahead of the car's origin, metres.
    """

    def __init__(self, track: Track, useful_range: float = MAX_RANGE, forward: float = 0.0) -> None:
        borders = [track.inner, track.outer]
        self._set_segments(np.vstack([b[:-1] for b in borders]), np.vstack([np.diff(b, axis=0) for b in borders]),
                           useful_range, forward)

    @classmethod
    def from_segments(cls, segments: np.ndarray, useful_range: float = MAX_RANGE, forward: float = 0.0) -> "Lidar":
        """A lidar that sees (S, 2, 2) wall segments, e.g. ``World.wall_segments`` at its height."""
        lidar = cls.__new__(cls)
        segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
        lidar._set_segments(segments[:, 0], segments[:, 1] - segments[:, 0], useful_range, forward)
        return lidar

    def _set_segments(self, starts: np.ndarray, edges: np.ndarray, useful_range: float, forward: float) -> None:
        self._a = starts
        self._e = edges
        self.useful_range = min(float(useful_range), MAX_RANGE)
        self.forward = forward
        self.angles = np.linspace(MIN_ANGLE, MAX_ANGLE, LIDAR_SAMPLES)

    def ranges(self, x: float, y: float, yaw: float) -> np.ndarray:
        """(64,) float64 ranges, index 0 at -150 degrees (right), ``inf`` where nothing is hit."""
        px = x + self.forward * math.cos(yaw)
        py = y + self.forward * math.sin(yaw)
        ax = self._a[:, 0] - px
        ay = self._a[:, 1] - py
        ex, ey = self._e[:, 0], self._e[:, 1]
        # Keep the segments that come within range of the sensor.
        len2 = np.maximum(ex * ex + ey * ey, 1e-18)
        t = np.clip(-(ax * ex + ay * ey) / len2, 0.0, 1.0)
        near = (ax + t * ex) ** 2 + (ay + t * ey) ** 2 <= self.useful_range ** 2
        ax, ay, ex, ey = ax[near], ay[near], ex[near], ey[near]
        out = np.full(LIDAR_SAMPLES, np.inf)
        if ax.size == 0:
            return out
        theta = yaw + self.angles
        dx = np.cos(theta)[:, None]
        dy = np.sin(theta)[:, None]
        denom = dx * ey - dy * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = (ax * ey - ay * ex) / denom
            u = (ax * dy - ay * dx) / denom
        hit = (np.abs(denom) > 1e-12) & (dist >= 0.0) & (u >= 0.0) & (u <= 1.0)
        dist = np.where(hit, dist, np.inf).min(axis=1)
        # Closer than the minimum range the sensor reads its minimum; beyond the useful range, nothing.
        dist = np.where(dist < MIN_RANGE, MIN_RANGE, dist)
        dist[dist > self.useful_range] = np.inf
        return dist


def clip_lidar(ranges: np.ndarray) -> np.ndarray:
    """The LIDAR filter: clip to [0.15, 1.0] (float64)."""
    return np.clip(np.asarray(ranges, dtype=np.float64), *LIDAR_CLIP)


def discretize_sectors(ranges: np.ndarray, config: LidarConfig) -> np.ndarray:
    """The sector filter of SECTOR_LIDAR / DISCRETIZED_SECTOR_LIDAR (docs/protocol.md §3.1).

    Minimum range per sector, clipped to the clipping distance (itself held within the sensor's
    0.15..12 m), binned in steps of clip / values; the last bin ("nothing within range") is
    dropped from the one-hot code. Returns (sectors * values,) floats of 0 and 1.
    """
    sectors = max(int(config.num_sectors), 1)
    values = max(int(config.num_values_per_sector), 1)
    clip = max(min(float(config.clipping_dist), MAX_RANGE), MIN_RANGE)
    step = clip / values
    nearest = np.min(np.asarray(ranges, dtype=np.float64).reshape(sectors, -1), axis=1)
    nearest = np.minimum(nearest, clip)
    bins = np.floor(nearest / step).astype(np.int64)
    one_hot = np.zeros((sectors, values + 1))
    one_hot[np.arange(sectors), bins] = 1.0
    return one_hot[:, :-1].reshape(-1)
