"""A race track as the simulation image describes it: centre line plus inner and outer borders.

The image's route files are ``.npy`` arrays of N rows ``[cx, cy, ix, iy, ox, oy]``. Every
geometric quantity the reward function sees (progress, closest waypoints, track width, left of
centre) is measured on these polylines, so this module is the one place that measures them.
Loops are stored closed (the last waypoint repeats the first), as the image's ``LinearRing``
does, so waypoint indices in ``closest_waypoints`` match the image's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from markov.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Projection:
    """Where a point lies relative to the centre line.

    Attributes:
        distance: arc length along the centre line from waypoint 0, metres.
        offset: distance from the centre line, metres (always >= 0).
        is_left: True when the point is left of the centre line, seen in the driving direction.
        segment: index i of the centre-line segment (waypoint i to i+1) holding the foot point.
    """

    distance: float
    offset: float
    is_left: bool
    segment: int


class Track:
    """Centre line and borders of a track, in one driving direction.

    Args:
        name: a label (file stem or built-in name).
        center, inner, outer: (N, 2) arrays of waypoints in metres. For a loop the last row may
            repeat the first; it is added if missing.
        is_loop: whether the track is closed.
        reversed: True when this is the track driven the other way round (``is_reversed``).
    """

    def __init__(self, name: str, center: np.ndarray, inner: np.ndarray, outer: np.ndarray,
                 is_loop: bool, reversed: bool = False) -> None:
        center, inner, outer = (np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (center, inner, outer))
        if not (len(center) == len(inner) == len(outer)) or len(center) < 3:
            raise ConfigError(f"track {name}: centre, inner and outer lines need the same number (>= 3) of points")
        if is_loop and not np.allclose(center[0], center[-1]):
            center, inner, outer = (np.vstack([a, a[:1]]) for a in (center, inner, outer))
        self.name = name
        self.center = center
        self.inner = inner
        self.outer = outer
        self.is_loop = bool(is_loop)
        self.is_reversed = bool(reversed)
        seg = np.diff(center, axis=0)
        self._seg_start = center[:-1]
        self._seg = seg
        self._seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self._seg_len2 = np.maximum(self._seg_len ** 2, 1e-18)
        self.cumulative = np.concatenate([[0.0], np.cumsum(self._seg_len)])
        self.length = float(self.cumulative[-1])
        widths = np.hypot(*(inner - outer).T)
        self.widths = widths
        # The typical width: real tracks vary by a few millimetres along the lap.
        self.width = float(np.median(widths))
        self.waypoints = [(float(x), float(y)) for x, y in center]
        self._inner_seg = (inner[:-1], np.diff(inner, axis=0))
        self._outer_seg = (outer[:-1], np.diff(outer, axis=0))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_npy(cls, path: str | Path, reversed: bool = False) -> "Track":
        """Load an image route file (Nx6: centre, inner, outer points).

        Raises:
            ConfigError: naming the file, for a missing file or an array of the wrong shape.
        """
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise ConfigError(f"{path}: track file not found; pass a built-in track name or an existing .npy") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable .npy track ({exc})") from None
        if data.ndim != 2 or data.shape[1] != 6 or len(data) < 3:
            raise ConfigError(f"{path}: expected an Nx6 array of [cx, cy, ix, iy, ox, oy] rows, got shape {data.shape}")
        if not np.all(np.isfinite(data)):
            raise ConfigError(f"{path}: the track holds NaN or infinite coordinates")
        center, inner, outer = data[:, 0:2], data[:, 2:4], data[:, 4:6]
        steps = np.hypot(*np.diff(center, axis=0).T)
        gap = float(np.hypot(*(center[-1] - center[0])))
        # Route files of loops usually repeat the first point; some stop one step short.
        is_loop = gap < 2.0 * float(np.median(steps)) + 1e-9
        track = cls(path.stem, center, inner, outer, is_loop=is_loop)
        return track.reversed() if reversed else track

    def reversed(self) -> "Track":
        """The same track driven the other way round.

        Inner and outer keep their names (they are properties of the ground); left and right
        swap because the driving direction does, as in the image's ``reverse_dir``.
        """
        return Track(self.name, self.center[::-1], self.inner[::-1], self.outer[::-1],
                     is_loop=self.is_loop, reversed=not self.is_reversed)

    def to_npy_array(self) -> np.ndarray:
        """The Nx6 array the image reads (for exporting a built-in track)."""
        return np.hstack([self.center, self.inner, self.outer])

    # -- measurements -------------------------------------------------------------------------
    def project(self, x: float, y: float) -> Projection:
        """Nearest point on the centre line (the image's ``center_line.project``)."""
        px = x - self._seg_start[:, 0]
        py = y - self._seg_start[:, 1]
        sx, sy = self._seg[:, 0], self._seg[:, 1]
        t = np.clip((px * sx + py * sy) / self._seg_len2, 0.0, 1.0)
        dx = px - t * sx
        dy = py - t * sy
        d2 = dx * dx + dy * dy
        i = int(np.argmin(d2))
        cross = sx[i] * py[i] - sy[i] * px[i]
        return Projection(
            distance=float(self.cumulative[i] + t[i] * self._seg_len[i]),
            offset=float(np.sqrt(d2[i])),
            is_left=bool(cross > 0.0),
            segment=i,
        )

    def nearest_border_points(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest points on the inner and on the outer border."""
        return _nearest_on_segments(self._inner_seg, x, y), _nearest_on_segments(self._outer_seg, x, y)

    def local_width(self, x: float, y: float) -> float:
        """The image's ``track_width``: distance between the nearest inner and outer points."""
        near_in, near_out = self.nearest_border_points(x, y)
        return float(np.hypot(*(near_in - near_out)))

    def closest_waypoints(self, distance: float) -> tuple[int, int]:
        """Indices of the waypoints before and after a distance along the centre line."""
        last = len(self.center) - 1
        prev = int(np.searchsorted(self.cumulative, distance % self.length if self.is_loop else distance,
                                   side="right")) - 1
        prev = min(max(prev, 0), last - 1)
        nxt = prev + 1
        if self.is_loop and nxt == last:
            nxt = 0  # the closing waypoint is waypoint 0
        return prev, nxt

    def pose_at(self, distance: float) -> tuple[float, float, float]:
        """(x, y, yaw) on the centre line at a distance from waypoint 0, facing forward.

        The heading is that of the segment ahead (the image's forward difference).
        """
        if self.is_loop:
            distance %= self.length
        distance = min(max(distance, 0.0), self.length)
        i = min(int(np.searchsorted(self.cumulative, distance, side="right")) - 1, len(self._seg) - 1)
        t = (distance - self.cumulative[i]) / max(self._seg_len[i], 1e-12)
        x, y = self._seg_start[i] + t * self._seg[i]
        yaw = float(np.arctan2(self._seg[i, 1], self._seg[i, 0]))
        return float(x), float(y), yaw

    def heading_at(self, distance: float) -> float:
        return self.pose_at(distance)[2]

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of everything drawn on the ground."""
        pts = np.vstack([self.center, self.inner, self.outer])
        return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())

    def __repr__(self) -> str:
        return (f"Track({self.name!r}, length={self.length:.2f} m, width={self.width:.3f} m, "
                f"waypoints={len(self.center)}, loop={self.is_loop}, reversed={self.is_reversed})")


def _nearest_on_segments(segments: tuple[np.ndarray, np.ndarray], x: float, y: float) -> np.ndarray:
    start, seg = segments
    px = x - start[:, 0]
    py = y - start[:, 1]
    len2 = np.maximum(seg[:, 0] ** 2 + seg[:, 1] ** 2, 1e-18)
    t = np.clip((px * seg[:, 0] + py * seg[:, 1]) / len2, 0.0, 1.0)
    dx = px - t * seg[:, 0]
    dy = py - t * seg[:, 1]
    i = int(np.argmin(dx * dx + dy * dy))
    return start[i] + t[i] * seg[i]
