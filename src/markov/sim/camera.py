"""The front camera: a pinhole view of the ground plane, rendered by lookup.

Every pixel's ray is intersected with the ground once, at construction, giving its ground point
in the car's frame. A frame is then one rotation and translation of those points and a gather
from the track map; pixels whose ray misses the ground (or lands beyond ``max_range``) show the
sky. The output is what the image's rollout filters produce for a camera: (120, 160) uint8
grey levels (docs/protocol.md §3.1), so no colour conversion is needed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from markov.sensors import IMAGE_HEIGHT, IMAGE_WIDTH
from markov.sim.track_map import SKY_SHADE, TrackMap


@dataclass(frozen=True)
class CameraSpec:
    """Mounting and optics, near the DeepRacer's (Gazebo model: horizontal FOV 1.13 rad).

    Attributes:
        forward, lateral: position in the car's frame (metres, lateral left positive).
        height: lens height above the ground, metres.
        tilt: downward pitch, radians.
        horizontal_fov: radians across the 160 pixels.
        max_range: ground farther than this (metres) is drawn as sky, like a far wall.
    """

    forward: float = 0.09
    lateral: float = 0.0
    height: float = 0.12
    tilt: float = 0.2
    horizontal_fov: float = 1.13
    max_range: float = 12.0
    width: int = IMAGE_WIDTH
    height_px: int = IMAGE_HEIGHT


STEREO_BASELINE = 0.06


class Camera:
    """Renders frames of one camera for a given track map."""

    def __init__(self, track_map: TrackMap, spec: CameraSpec = CameraSpec()) -> None:
        self.spec = spec
        self.map = track_map
        w, h = spec.width, spec.height_px
        focal = (w / 2.0) / math.tan(spec.horizontal_fov / 2.0)
        u = np.arange(w) + 0.5 - w / 2.0
        v = np.arange(h) + 0.5 - h / 2.0
        uu, vv = np.meshgrid(u, v)
        left = -uu / focal
        up = -vv / focal
        ct, st = math.cos(spec.tilt), math.sin(spec.tilt)
        # Ray = forward axis + left * l + up axis * u, with the optical axis pitched down.
        dx = ct + up * st
        dz = -st + up * ct
        dy = left
        with np.errstate(divide="ignore"):
            t = np.where(dz < 0, spec.height / -dz, np.inf)
        gx = spec.forward + t * dx
        gy = spec.lateral + t * dy
        ground = np.isfinite(t) & (np.hypot(gx - spec.forward, gy - spec.lateral) <= spec.max_range)
        self.ground_index = np.flatnonzero(ground.ravel())
        inv = 1.0 / track_map.resolution
        # Ground points in map cells, so a frame needs no further scaling.
        self._gx = (gx.ravel()[self.ground_index] * inv).astype(np.float32)
        self._gy = (gy.ravel()[self.ground_index] * inv).astype(np.float32)
        self._shade = track_map.shade.ravel()
        self._blank = np.full(w * h, SKY_SHADE, dtype=np.uint8)

    def ground_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Car-frame ground coordinates (metres) of the pixels that see the ground."""
        r = self.map.resolution
        return self._gx.astype(np.float64) * r, self._gy.astype(np.float64) * r

    def render(self, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """A (height, width) uint8 frame for the car's origin at (x, y) heading ``yaw``."""
        m = self.map
        c, s = math.cos(yaw), math.sin(yaw)
        inv = 1.0 / m.resolution
        cx = np.float32((x - m.origin_x) * inv)
        cy = np.float32((y - m.origin_y) * inv)
        col = (self._gx * np.float32(c) - self._gy * np.float32(s) + cx).astype(np.int32)
        row = (self._gx * np.float32(s) + self._gy * np.float32(c) + cy).astype(np.int32)
        np.clip(col, 0, m.width - 1, out=col)
        np.clip(row, 0, m.height - 1, out=row)
        row *= m.width
        row += col
        frame = self._blank.copy() if out is None else out.reshape(-1)
        if out is not None:
            frame[:] = SKY_SHADE
        frame[self.ground_index] = self._shade.take(row)
        return frame.reshape(self.spec.height_px, self.spec.width)


def stereo_pair(track_map: TrackMap, spec: CameraSpec = CameraSpec(),
                baseline: float = STEREO_BASELINE) -> tuple[Camera, Camera]:
    """Left and right cameras of the stereo rig, ``baseline`` apart."""
    half = baseline / 2.0
    left = CameraSpec(**{**spec.__dict__, "lateral": spec.lateral + half})
    right = CameraSpec(**{**spec.__dict__, "lateral": spec.lateral - half})
    return Camera(track_map, left), Camera(track_map, right)


class StereoRig:
    """The flat stereo pair behind the mesh camera rig's interface: ``render`` gives (2, H, W) frames."""

    def __init__(self, left: Camera, right: Camera) -> None:
        self.left, self.right = left, right

    def render(self, x: float, y: float, yaw: float) -> np.ndarray:
        return np.stack([self.left.render(x, y, yaw), self.right.render(x, y, yaw)])
