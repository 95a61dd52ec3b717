"""Learning bar: does ``deepracer-trainer local`` learn a track with its defaults?

Runs ``local`` with the default model, reward and hyperparameters on ``--track`` (default: the
local default track; ``--tracks-dir`` finds an image track such as ``reInvent2019_track``) for
at most ``--minutes`` (30), and watches ``progress.jsonl``. The bar (issues 8 and 11): mean
progress per episode rises from its first-iteration value to >= 80 %, and at least one full lap
is finished. ``local --stop-at-progress 80`` ends the run (with its graceful stop) at the first
iteration whose mean progress reaches 80 %; the bar is then checked on the curve. Prints the
curve, the load average and the CPU time the run used; exits 1 if
the bar is not met in time.

Run: ``python bench/learn.py [--track reInvent2019_track --tracks-dir DIR] [--seed N] [--out DIR]``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_PROGRESS = 80.0


def read_points(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    points = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            points.append(json.loads(line))
        except ValueError:
            continue
    return points


def bar_met(points: list[dict]) -> bool:
    progress = [p["mean_progress"] for p in points if p.get("mean_progress") is not None]
    laps = sum(p.get("laps", 0) for p in points)
    return len(progress) >= 2 and progress[-1] >= TARGET_PROGRESS and progress[-1] > progress[0] and laps >= 1


def load_average() -> str:
    """The 1-minute load average: the machine may be shared, and the minutes depend on it."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "n/a"


def children_cpu_seconds() -> float:
    """CPU seconds of the finished child processes (local and, through it, the trainer and rollouts)."""
    if not hasattr(os, "times"):
        return 0.0
    times = os.times()
    return times.children_user + times.children_system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a fresh temporary one)")
    parser.add_argument("--track", default=None, help="track name or route .npy (default: local's default)")
    parser.add_argument("--tracks-dir", type=Path, default=None, metavar="DIR",
                        help="folder of the image's track worlds (default: local's, DEEPRACER_TRACKS)")
    parser.add_argument("--seed", type=int, default=None, help="local --seed: the same run twice (default: unseeded)")
    parser.add_argument("--domain-randomization", default=None, metavar="SPEC", help="local --domain-randomization")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="deepracer-learn-")) / "run"
    if out.exists():
        shutil.rmtree(out)
    command = [sys.executable, "-m", "markov", "local", "--out", str(out), "--minutes", str(args.minutes),
               "--stop-at-progress", f"{TARGET_PROGRESS:g}"]
    for flag, value in (("--track", args.track), ("--tracks-dir", args.tracks_dir), ("--seed", args.seed),
                        ("--domain-randomization", args.domain_randomization)):
        if value is not None:
            command += [flag, str(value)]
    print(f"{' '.join(command)}  ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"load average {load_average()})", flush=True)
    cpu_before = children_cpu_seconds()
    began = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    log = (out.parent / "local.out").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    met_at = None
    seen = 0
    while process.poll() is None:
        points = read_points(out / "progress.jsonl")
        for point in points[seen:]:
            minutes = (time.monotonic() - began) / 60
            print(f"{minutes:6.1f} min  iteration {point['iteration']:3d}  reward {point['mean_reward'] or 0:8.1f}  "
                  f"progress {point['mean_progress'] or 0:5.1f} %  laps {point['laps']}  "
                  f"load {load_average()}", flush=True)
        seen = len(points)
        if met_at is None and bar_met(points):
            met_at = time.monotonic() - began  # local stops by itself at TARGET_PROGRESS
        time.sleep(2)
    points = read_points(out / "progress.jsonl")
    laps = sum(p.get("laps", 0) for p in points)
    progress = [p["mean_progress"] for p in points if p.get("mean_progress") is not None]
    print(f"local exited with code {process.returncode}; {len(points)} iterations, {laps} laps, "
          f"progress {progress[0] if progress else 0:.1f} % -> {max(progress) if progress else 0:.1f} % (best); "
          f"{(time.monotonic() - began) / 60:.1f} min wall, {(children_cpu_seconds() - cpu_before) / 60:.1f} CPU-min "
          f"of the run's processes, load average {load_average()}")
    if met_at is None:
        print(f"FAIL: the bar (mean progress >= {TARGET_PROGRESS:.0f} % and a full lap) was not met "
              f"in {args.minutes:g} minutes; run folder {out}")
        return 1
    print(f"PASS: bar met after {met_at / 60:.1f} minutes; run folder {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
