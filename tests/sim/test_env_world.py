"""The simulator on an image track's world: mesh camera, walls for the lidar, route-based rewards, fallback."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from markov.errors import ConfigError
from markov.model_metadata import parse_model_metadata
from markov.sim.env import DeepRacerEnv
from markov.sim.randomization import Randomization
from markov.sim.world import ROUTES, load_world

ACTIONS = [{"steering_angle": a, "speed": 0.8} for a in (-30, -15, 0, 15, 30)]


def metadata(*sensors):
    return parse_model_metadata({"action_space": ACTIONS, "sensor": list(sensors), "version": "5"})


def test_camera_and_stereo_observations_come_from_the_mesh_camera(gl, small_world_dir, small_world_name):
    env = DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=small_world_name, tracks_dir=small_world_dir)
    assert env.renderer == "mesh" and env.world.name == small_world_name
    obs, _ = env.reset()
    frame = obs["FRONT_FACING_CAMERA"]
    assert frame.shape == (120, 160, 1) and frame.dtype == np.uint8
    assert np.array_equal(frame[:, :, 0], env.render())
    stereo = DeepRacerEnv(metadata("STEREO_CAMERAS"), track=small_world_name, tracks_dir=small_world_dir)
    pair = stereo.reset()[0]["STEREO_CAMERAS"]
    assert pair.shape == (120, 160, 2) and pair.flags.c_contiguous
    assert not np.array_equal(pair[:, :, 0], pair[:, :, 1])
    # Further along, the picture changes (the car drives into the bend).
    for _ in range(15):
        obs, *_ = env.step(2)
    assert np.abs(obs["FRONT_FACING_CAMERA"].astype(int) - frame).mean() > 5


def test_reward_params_are_the_routes_whatever_the_renderer(gl, small_world_dir, small_world_name):
    """The world only changes the pictures: params, progress and episode ends are the route's."""
    route = small_world_dir / ROUTES / f"{small_world_name}.npy"
    mesh = DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=small_world_name, tracks_dir=small_world_dir)
    flat = DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=str(route))
    mesh.reset(), flat.reset()
    steps = 0
    for action in [2] * 10 + [3] * 10 + [1] * 40:
        steps += 1
        _, r1, t1, _, i1 = mesh.step(action)
        _, r2, t2, _, i2 = flat.step(action)
        assert (r1, t1, i1["episode_status"], i1["progress"]) == (r2, t2, i2["episode_status"], i2["progress"])
        assert i1["reward_params"] == i2["reward_params"]
        if t1:
            break
    assert steps > 20


def test_lidar_sees_the_worlds_walls(gl, small_world_dir, small_world_name):
    env = DeepRacerEnv(metadata("FRONT_FACING_CAMERA", "LIDAR"), track=small_world_name, tracks_dir=small_world_dir)
    world = load_world(small_world_dir, small_world_name)
    xmax = max(s[:, 0].max() for s in world.wall_segments(0.18))
    ahead = 0.5
    obs, _ = env.reset(options={"pose": (xmax - ahead, 0.0, 0.0)})
    lidar = obs["LIDAR"]
    # The two rays either side of straight ahead (+-0.04 rad) hit the wall ahead_of_the_laser m away.
    distance = (ahead - 0.02913) / math.cos(2.61799 / 63)
    assert lidar[31] == pytest.approx(distance, abs=0.01) and lidar[32] == pytest.approx(distance, abs=0.01)
    assert lidar[0] == 1.0  # behind-right: nothing within the 1 m clip
    # On the route, far from the walls, nothing is in reach (the painted borders are not walls here).
    assert (env.reset(options={"start_ndist": 0.0})[0]["LIDAR"] == 1.0).all()


def test_lidar_sees_the_walls_of_the_images_own_world(gl, fixture_tracks):
    """reInvent2019_track's collision mesh is a box of walls around the track: the lidar reads them."""
    env = DeepRacerEnv(metadata("FRONT_FACING_CAMERA", "LIDAR"), track="reInvent2019_track", tracks_dir=fixture_tracks)
    segments = env.world.wall_segments(0.18)
    assert len(segments) >= 4
    # The wall furthest along +x, which runs along y: drive at it from 0.5 m, facing +x.
    wall = max(segments, key=lambda segment: segment[:, 0].min())
    assert abs(wall[0, 0] - wall[1, 0]) < 1e-6
    ahead = 0.5
    obs, _ = env.reset(options={"pose": (wall[0, 0] - ahead, float(wall[:, 1].mean()), 0.0)})
    distance = (ahead - 0.02913) / math.cos(2.61799 / 63)
    assert obs["LIDAR"][31] == pytest.approx(distance, abs=0.01)
    assert obs["LIDAR"][0] == 1.0


def test_set_lighting_and_light_jitter_relight_the_frames(gl, small_world_dir, small_world_name):
    env = DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=small_world_name, tracks_dir=small_world_dir,
                       start_position="fixed")
    base = env.reset()[0]["FRONT_FACING_CAMERA"]
    env.set_lighting(env.world.lighting.adjusted(ambient=0.3, lights=0.3))
    assert env.lighting.ambient == pytest.approx((0.15, 0.15, 0.15))
    dim = env.reset()[0]["FRONT_FACING_CAMERA"]
    assert dim.mean() < 0.6 * base.mean()
    env.set_lighting(None)
    assert np.array_equal(env.reset()[0]["FRONT_FACING_CAMERA"], base)
    jitter = DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=small_world_name, tracks_dir=small_world_dir,
                          start_position="fixed", randomization=Randomization(light_intensity=0.5, seed=3))
    means = {round(float(jitter.reset()[0]["FRONT_FACING_CAMERA"].mean()), 1) for _ in range(4)}
    assert len(means) == 4  # every episode a different light


def test_renderer_choice_errors(small_world_dir, small_world_name):
    with pytest.raises(ConfigError, match="renderer 'mesh' needs an image track"):
        DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track="oval", renderer="mesh")
    with pytest.raises(ConfigError, match="renderer 'glossy': allowed auto, mesh, flat"):
        DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track="oval", renderer="glossy")
    with pytest.raises(ConfigError, match=r"'test_loop'.*--tracks-dir DIR or DEEPRACER_TRACKS"):
        DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=small_world_name)
    flat = DeepRacerEnv(metadata("FRONT_FACING_CAMERA"), track=small_world_name, tracks_dir=small_world_dir,
                        renderer="flat")
    assert flat.renderer == "flat" and flat.lighting is None
    flat.set_lighting(None)  # no lights to change: not an error


@pytest.mark.slow
def test_without_opengl_the_flat_renderer_draws_with_one_warning(small_world_dir, small_world_name):
    """A machine with no EGL library: no crash, one warning line that says why."""
    script = ("import logging, sys; logging.basicConfig(level=logging.WARNING, format='log %(levelname)s %(message)s')\n"
              "from markov.sim.env import DeepRacerEnv\n"
              "for _ in range(3):\n"
              f"    env = DeepRacerEnv(None, track={small_world_name!r}, tracks_dir={str(small_world_dir)!r})\n"
              "    assert env.renderer == 'flat' and env.reset()[0]['FRONT_FACING_CAMERA'].shape == (120, 160, 1)\n")
    env = {**os.environ, "GLCONTEXT_LINUX_LIBEGL": "/nonexistent/libEGL.so.1", "DISPLAY": ""}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("log WARNING")]
    assert len(warnings) == 1, done.stderr
    assert "the flat renderer draws this track" in warnings[0] and "libEGL" in warnings[0]
