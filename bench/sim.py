"""Simulator throughput per core: camera frames/s of the mesh renderer against the flat one, and env steps/s.

Frames: each renderer draws the car's view at 200 poses around the lap (on the centre line,
turned either way), front camera and the stereo pair, on the image's tracks of ``--tracks-dir``
(default: ../shared/fixtures/tracks). The mesh camera is timed in its default (160x120, luminance
in the shader) and in its exact mode (640x480 RGB, PIL bilinear resize, luminance: the image's
pipeline). Steps: the whole simulator step (car, sensors, reward params, reward, rules).

Per core: figures are frames (steps) per CPU second of this process, with NumPy on one thread
and llvmpipe rasterising in the calling thread (LP_NUM_THREADS=0), so another process's load
on a shared machine does not count against them. Run: ``python bench/sim.py [--frames N]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "0")  # llvmpipe: rasterise in the calling thread (one core)

import numpy as np  # noqa: E402

from markov.model_metadata import parse_model_metadata  # noqa: E402
from markov.sim.camera import Camera, StereoRig, stereo_pair  # noqa: E402
from markov.sim.env import DeepRacerEnv  # noqa: E402
from markov.sim.mesh_camera import MeshScene, gl_context  # noqa: E402
from markov.sim.sensor_mounts import load_car_mounts  # noqa: E402
from markov.sim.track_map import TrackMap  # noqa: E402
from markov.sim.world import list_tracks, load_world  # noqa: E402

FIXTURE_TRACKS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tracks"
ACTIONS = [{"steering_angle": a, "speed": 0.8} for a in (-30, -15, 0, 15, 30)]
STEP_CASES = {"front camera": ["FRONT_FACING_CAMERA"], "stereo cameras": ["STEREO_CAMERAS"],
              "camera + lidar": ["FRONT_FACING_CAMERA", "LIDAR"]}


def frames_per_cpu_second(camera, poses, frames: int) -> float:
    for pose in poses[:20]:
        camera.render(*pose)  # warm-up: shader variants, caches
    start = time.process_time()
    for i in range(frames):
        camera.render(*poses[i % len(poses)])
    return frames / (time.process_time() - start)


def steps_per_cpu_second(sensors: list[str], track: str, tracks_dir: Path | None, renderer: str, steps: int) -> float:
    meta = parse_model_metadata({"action_space": ACTIONS, "sensor": sensors, "version": "5"})
    env = DeepRacerEnv(meta, track=track, tracks_dir=tracks_dir, max_steps=300, renderer=renderer)
    env.reset()
    start = time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(2)
        if terminated or truncated:
            env.reset()
    return steps / (time.process_time() - start)


def poses_around(track, n: int = 200) -> list[tuple[float, float, float]]:
    out = []
    for i, d in enumerate(np.linspace(0.0, track.length, n, endpoint=False)):
        x, y, yaw = track.pose_at(d)
        out.append((x, y, yaw + (-0.15, 0.0, 0.15)[i % 3]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames per case (default %(default)s)")
    parser.add_argument("--steps", type=int, default=1500, help="env steps per case (default %(default)s)")
    parser.add_argument("--tracks-dir", type=Path, default=FIXTURE_TRACKS)
    args = parser.parse_args()
    ctx = gl_context()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (load average {load:.1f}), "
          f"Python {platform.python_version()}, {ctx.info['GL_RENDERER']}")
    print("\nframes per CPU second (one core)")
    print(f"{'track':<20} {'view':<7} {'flat':>7} {'mesh':>7} {'mesh/flat':>9} {'exact':>7}")
    mounts = load_car_mounts(args.tracks_dir)
    for info in list_tracks(args.tracks_dir):
        world = load_world(args.tracks_dir, info.name)
        scene = MeshScene(world)
        flat_map = TrackMap(world.track)
        poses = poses_around(world.track)
        views = {"camera": ([mounts.front], Camera(flat_map)), "stereo": (list(mounts.stereo), StereoRig(*stereo_pair(flat_map)))}
        for view, (mount_list, flat_camera) in views.items():
            flat = frames_per_cpu_second(flat_camera, poses, args.frames)
            mesh = frames_per_cpu_second(scene.camera(mount_list, mounts.optics), poses, args.frames)
            exact = frames_per_cpu_second(scene.camera(mount_list, mounts.optics, exact=True), poses,
                                          max(args.frames // 20, 20))
            print(f"{info.name:<20} {view:<7} {flat:>7.0f} {mesh:>7.0f} {mesh / flat:>9.2f} {exact:>7.0f}")
    print("\nenv steps per CPU second (one core), reInvent2019_track")
    print(f"{'sensors':<16} {'flat':>7} {'mesh':>7} {'mesh/flat':>9}")
    for name, sensors in STEP_CASES.items():
        flat = steps_per_cpu_second(sensors, "reInvent2019_track", args.tracks_dir, "flat", args.steps)
        mesh = steps_per_cpu_second(sensors, "reInvent2019_track", args.tracks_dir, "mesh", args.steps)
        print(f"{name:<16} {flat:>7.0f} {mesh:>7.0f} {mesh / flat:>9.2f}")


if __name__ == "__main__":
    main()
