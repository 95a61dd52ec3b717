"""Simulator throughput: environment steps per second on one core, with sensors rendered.

Each case drives the built-in simulator with a fixed action and the default reward function,
resetting when an episode ends, so a step includes the car, the sensors, the reward params, the
reward call and the episode rules. Run: ``python bench/sim.py [--steps N] [--track T]``.
NumPy is pinned to one thread so the figure is per core.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from markov.model_metadata import parse_model_metadata  # noqa: E402
from markov.sim.env import DeepRacerEnv  # noqa: E402

CASES = {
    "front camera": ["FRONT_FACING_CAMERA"],
    "stereo cameras": ["STEREO_CAMERAS"],
    "camera + lidar": ["FRONT_FACING_CAMERA", "LIDAR"],
    "stereo + sector lidar": ["STEREO_CAMERAS", "SECTOR_LIDAR"],
}
ACTIONS = [{"steering_angle": a, "speed": 0.8} for a in (-30, -15, 0, 15, 30)]


def bench(sensors: list[str], track: str, steps: int) -> float:
    meta = parse_model_metadata({"action_space": ACTIONS, "sensor": sensors, "version": "5"})
    env = DeepRacerEnv(meta, track=track, max_steps=300)
    env.reset()
    action, done_steps = 2, 0
    start = time.perf_counter()
    while done_steps < steps:
        _, _, terminated, truncated, _ = env.step(action)
        done_steps += 1
        if terminated or truncated:
            env.reset()
    return done_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--track", default="twisty")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"track {args.track}, {args.steps} steps per case")
    for name, sensors in CASES.items():
        print(f"{name:<22} {bench(sensors, args.track, args.steps):>8.0f} steps/s")


if __name__ == "__main__":
    main()
