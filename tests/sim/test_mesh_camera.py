"""The mesh camera: real OpenGL (EGL, llvmpipe on a CPU) on a generated world and the image's worlds."""
from __future__ import annotations

import numpy as np
import pytest

from markov.sim.mesh_camera import MeshScene, project
from markov.sim.sensor_mounts import load_car_mounts
from markov.sim.world import load_world

# The fast path's mean absolute difference to the image's pipeline (640x480 RGB, PIL bilinear
# resize, luminance), in grey levels: about 3 on the image's tracks.
MAX_MEAN_ABS_DIFF = 4.0


@pytest.fixture(scope="module")
def small(gl, small_world_dir, small_world_name):
    world = load_world(small_world_dir, small_world_name)
    return world, MeshScene(world), load_car_mounts(small_world_dir)


def poses(track, n: int):
    return [track.pose_at(d) for d in np.linspace(0.0, track.length, n, endpoint=False)]


def test_frame_is_the_observation_shape_and_shows_road_paint_and_field(small):
    world, scene, mounts = small
    camera = scene.camera([mounts.front], mounts.optics)
    x, y, yaw = world.track.pose_at(0.1)
    frame = camera.render(x, y, yaw)
    assert frame.shape == (120, 160) and frame.dtype == np.uint8
    labels = camera.render_labels(x, y, yaw)[0]
    names = [s.name.split("-")[0] for s in world.surfaces]
    road = frame[labels == names.index("road") + 1]
    dash = frame[labels == names.index("center_line") + 1]
    line = frame[labels == names.index("outer_line") + 1]
    assert road.size > 3000 and dash.size > 100 and line.size > 50
    # Dark road, bright lines (white paint lit by ambient + sun + point light saturates).
    assert road.mean() < 140 < line.mean() and line.mean() > 200
    out = np.zeros((120, 160), np.uint8)
    assert camera.render(x, y, yaw, out=out) is out and np.array_equal(out, frame)


def test_transparent_texels_are_cut(small):
    """The centre line's texture alternates orange dashes and transparent gaps: the road shows between."""
    world, scene, mounts = small
    camera = scene.camera([mounts.front], mounts.optics)
    names = [s.name.split("-")[0] for s in world.surfaces]
    road, dash = names.index("road") + 1, names.index("center_line") + 1
    x, y, yaw = world.track.pose_at(0.1)
    labels = camera.render_labels(x, y, yaw)[0]
    ahead = np.array([(*world.track.pose_at(0.1 + d)[:2], 0.0015) for d in np.linspace(0.35, 1.2, 60)])
    pixels, front = project(camera.view_projection(x, y, yaw), ahead)
    cols, rows = np.round(pixels[front]).astype(int).T
    seen = labels[rows.clip(0, 119), cols.clip(0, 159)]
    assert 0.3 < (seen == dash).mean() < 0.7 and 0.3 < (seen == road).mean() < 0.7


def test_lighting_hook_changes_the_frames_and_none_restores_the_world(small):
    world, scene, mounts = small
    camera = scene.camera([mounts.front], mounts.optics)
    x, y, yaw = world.track.pose_at(2.0)
    before = camera.render(x, y, yaw)
    scene.set_lighting(world.lighting.adjusted(ambient=0.4, lights=0.4))
    dim = camera.render(x, y, yaw)
    scene.set_lighting(world.lighting.adjusted(sun_direction=(0.0, 0.0, 1.0)))  # a sun below the floor
    no_sun = camera.render(x, y, yaw)
    scene.set_lighting(None)
    assert np.array_equal(camera.render(x, y, yaw), before)
    assert dim.mean() < 0.6 * before.mean()
    assert no_sun.mean() < before.mean() - 20


def test_stereo_rig_renders_both_mounts_in_one_pass(small):
    world, scene, mounts = small
    rig = scene.camera(list(mounts.stereo), mounts.optics)
    left = scene.camera([mounts.stereo[0]], mounts.optics)
    right = scene.camera([mounts.stereo[1]], mounts.optics)
    for x, y, yaw in poses(world.track, 5):
        pair = rig.render(x, y, yaw)
        assert pair.shape == (2, 120, 160)
        # The right view is rasterised at a 160-pixel offset: the same picture up to a few edge pixels.
        for view, single in ((pair[0], left), (pair[1], right)):
            assert (view != single.render(x, y, yaw)).mean() < 0.01
        assert np.abs(pair[0].astype(int) - pair[1]).mean() > 1.0  # 6 cm apart: not the same view


def test_exact_pipeline_is_the_images_resize_then_luminance(small):
    from PIL import Image

    world, scene, mounts = small
    exact = scene.camera([mounts.front], mounts.optics, exact=True)
    x, y, yaw = world.track.pose_at(1.0)
    rgb = exact.render_rgb(x, y, yaw)[0]
    assert rgb.shape == (480, 640, 3)
    small_rgb = np.asarray(Image.fromarray(rgb).resize((160, 120), resample=2), dtype=np.float64)
    expected = np.rint(small_rgb @ [0.2989, 0.5870, 0.1140]).astype(np.uint8)
    assert np.array_equal(exact.render(x, y, yaw), expected)


def mean_abs_diff(scene, mounts, track, n):
    fast = scene.camera([mounts.front], mounts.optics)
    exact = scene.camera([mounts.front], mounts.optics, exact=True)
    return float(np.mean([np.abs(fast.render(*p).astype(int) - exact.render(*p)).mean() for p in poses(track, n)]))


def test_fast_path_stays_close_to_the_images_pipeline(small):
    world, scene, mounts = small
    assert mean_abs_diff(scene, mounts, world.track, 12) < MAX_MEAN_ABS_DIFF


@pytest.mark.parametrize("name", ["reInvent2019_track", "Oval_track"])
def test_fast_path_on_the_image_tracks(gl, fixture_tracks, name):
    world = load_world(fixture_tracks, name)
    scene = MeshScene(world)
    mounts = load_car_mounts(fixture_tracks)
    assert mean_abs_diff(scene, mounts, world.track, 16) < MAX_MEAN_ABS_DIFF
