"""The rendered world agrees with the route the reward params are measured on.

The route's inner and outer borders are projected through the camera model every frame uses
(``MeshCamera.view_projection``: URDF pose, FOV, near clip) and compared with the pixels where
the renderer drew the border-line meshes, at many poses (on and off the centre line, turned
either way). A wrong camera pose, axis, FOV or world transform moves the projected borders off
the painted lines, which the negative controls below show.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from markov.sim.mesh_camera import LINK_TO_EYE, MeshScene, car_pose, perspective, project
from markov.sim.sensor_mounts import CameraOptics, load_car_mounts
from markov.sim.world import load_world

BORDER_LINE = re.compile(r"^(ol|il)mesh|(inner|outer)_?line", re.IGNORECASE)
NEAR, FAR = 0.3, 3.0  # metres of border ahead of the car that the test compares
TOLERANCE_PX = 2
MIN_OVERLAP = 0.95


def border_overlap(world, camera, x, y, yaw, view_projection=None):
    """(fraction of projected border points on drawn border-line pixels, points compared)."""
    labels = camera.render_labels(x, y, yaw)[0]
    line_labels = [i + 1 for i, s in enumerate(world.surfaces) if BORDER_LINE.search(s.name)]
    assert len(line_labels) == 2, [s.name for s in world.surfaces]
    drawn = binary_dilation(np.isin(labels, line_labels), iterations=TOLERANCE_PX)
    vp = camera.view_projection(x, y, yaw) if view_projection is None else view_projection
    points = []
    for border in (world.track.inner, world.track.outer):
        dense = _densify(border, 0.01)
        distance = np.hypot(dense[:, 0] - x, dense[:, 1] - y)
        points.append(dense[(distance > NEAR) & (distance < FAR)])
    ground = np.c_[np.vstack(points), np.zeros(sum(len(p) for p in points))]
    height, width = labels.shape
    pixels, front = project(vp, ground, width, height)
    cols, rows = pixels[front].T
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    cols, rows = cols[inside].astype(int), rows[inside].astype(int)
    return float(drawn[rows, cols].mean()) if len(cols) else float("nan"), len(cols)


def _densify(line: np.ndarray, step: float) -> np.ndarray:
    out = []
    for a, b in zip(line[:-1], line[1:]):
        n = max(int(np.hypot(*(b - a)) / step), 1)
        out.append(a + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * (b - a))
    return np.vstack(out)


def pose_set(track, n):
    """Poses around the lap: on the centre line, 15 cm to either side, turned +-0.15 rad."""
    result = []
    for i, d in enumerate(np.linspace(0.0, track.length, n, endpoint=False)):
        x, y, yaw = track.pose_at(d)
        side = (-0.15, 0.0, 0.15)[i % 3]
        turn = (0.15, -0.15, 0.0)[i % 3]
        result.append((x - side * np.sin(yaw), y + side * np.cos(yaw), yaw + turn))
    return result


def agreement(folder, name, n):
    world = load_world(folder, name)
    mounts = load_car_mounts(folder)
    # Full resolution (640x480), so a border line 3 m away is still more than a pixel thick.
    camera = MeshScene(world).camera([mounts.front], mounts.optics, exact=True)
    scores = [border_overlap(world, camera, *pose) for pose in pose_set(world.track, n)]
    compared = [(s, k) for s, k in scores if k >= 100]
    return world, camera, compared


def wrong_cameras(camera, x, y, yaw):
    """Projection matrices of cameras that are slightly wrong: turned, too high, too wide, level."""
    mount = camera.mounts[0]
    base = camera.projection
    higher = mount.copy()
    higher[2, 3] += 0.05
    level = mount.copy()
    level[:3, :3] = np.eye(3)
    wide = perspective(CameraOptics(horizontal_fov=1.3))
    return {
        "turned 3 degrees": base @ LINK_TO_EYE @ np.linalg.inv(car_pose(x, y, yaw + 0.05) @ mount),
        "5 cm higher": base @ LINK_TO_EYE @ np.linalg.inv(car_pose(x, y, yaw) @ higher),
        "no 15-degree tilt": base @ LINK_TO_EYE @ np.linalg.inv(car_pose(x, y, yaw) @ level),
        "FOV 1.3 rad": wide @ LINK_TO_EYE @ np.linalg.inv(car_pose(x, y, yaw) @ mount),
    }


def check(world, camera, compared, n_poses):
    overlaps = np.array([s for s, _ in compared])
    assert len(compared) >= 0.75 * n_poses, "too few poses see the borders"
    assert overlaps.mean() >= MIN_OVERLAP and np.percentile(overlaps, 10) >= 0.85, overlaps.round(2)
    # Negative controls: the same frames, borders projected through a wrong camera.
    x, y, yaw = pose_set(world.track, n_poses)[1]
    for label, vp in wrong_cameras(camera, x, y, yaw).items():
        wrong, _ = border_overlap(world, camera, x, y, yaw, view_projection=vp)
        assert wrong < 0.6, f"a camera {label} still agrees ({wrong:.2f}): the test cannot see a wrong pose"
    return overlaps.mean()


def test_generated_world_agrees_with_its_route(gl, small_world_dir, small_world_name):
    world, camera, compared = agreement(small_world_dir, small_world_name, 24)
    check(world, camera, compared, 24)


@pytest.mark.parametrize("name", ["reInvent2019_track", "Oval_track"])
def test_image_tracks_agree_with_their_routes(gl, fixture_tracks, name):
    world, camera, compared = agreement(fixture_tracks, name, 60)
    check(world, camera, compared, 60)
