"""``deepracer-trainer reward-check``: what a reward function pays, per track section, in seconds.

A scripted driver (centre-line follower with noise) drives the built-in simulator; every step's
reward is collected and summarised per section of the track, and a heat map of reward over the
track is saved as a PNG. A reward function that raises or returns a non-finite value stops the
check with the file, the line and the params that broke it.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from markov.cli.tracks import add_track_arguments
from markov.sim.env import DeepRacerEnv
from markov.sim.reward_function import RewardFunctionError
from markov.sim.scripted_driver import CenterLineDriver
from markov.sim.track_library import DEFAULT_TRACK
from markov.sim.track_plot import plot_track

DEFAULT_OUT = "reward-check"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reward-check",
        help="drive a scripted car with your reward function and report what it pays",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("--reward-function", default=None, metavar="FILE",
                        help="reward_function.py to check (default: the package's example)")
    add_track_arguments(parser, default=DEFAULT_TRACK)
    parser.add_argument("--episodes", type=int, default=5, help="episodes to drive (default: 5)")
    parser.add_argument("--model-metadata", default=None, metavar="FILE",
                        help="model_metadata.json whose action space the driver uses (default: the package's)")
    parser.add_argument("--sections", type=int, default=10, help="track sections in the report (default: 10)")
    parser.add_argument("--reverse", action="store_true", help="drive the track the other way round")
    parser.add_argument("--max-steps", type=int, default=2000, help="step limit per episode (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the driver (default: 0)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the heat map PNG (default: ./{DEFAULT_OUT})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.errors import ConfigError
    if args.episodes < 1 or args.sections < 1:
        raise ConfigError("--episodes and --sections must be at least 1")
    env = DeepRacerEnv(args.model_metadata, track=args.track, tracks_dir=args.tracks_dir, reward_function=args.reward_function,
                       max_steps=args.max_steps, direction="reverse" if args.reverse else "forward",
                       start_position="round_robin", seed=args.seed,
                       renderer="flat")  # the scripted driver looks at the route, not at the camera
    driver = CenterLineDriver(env, seed=args.seed)
    track = env.track
    xs, ys, rewards, sections, on_track = [], [], [], [], []
    statuses: Counter = Counter()
    returns, progress = [], []
    for _ in range(args.episodes):
        env.reset()
        driver.reset()
        total, done, info = 0.0, False, {}
        while not done:
            try:
                _, reward, terminated, truncated, info = env.step(driver.act())
            except RewardFunctionError as exc:
                _print_failure(exc, env)
                raise
            done = terminated or truncated
            if info["episode_status"] == "prepare":
                continue
            params = info["reward_params"]
            total += reward
            xs.append(params["x"])
            ys.append(params["y"])
            rewards.append(reward)
            on_track.append(params["all_wheels_on_track"])
            sections.append(min(int(params["projection_distance"] / track.length * args.sections), args.sections - 1))
        statuses[info["episode_status"]] += 1
        returns.append(total)
        progress.append(info["progress"])

    rewards_a, sections_a, on_a = np.array(rewards), np.array(sections), np.array(on_track, dtype=bool)
    source = env.reward_function.source
    print(f"Reward function {source} on {track.name} ({track.length:.2f} m, {track.width:.2f} m wide"
          f"{', reversed' if track.is_reversed else ''}): {args.episodes} episodes, {len(rewards)} steps")
    print(f"Episodes ended: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
          f"mean progress {np.mean(progress):.1f} %, mean return {np.mean(returns):.2f}")
    print()
    print(f"{'section':>7}  {'track %':>9}  {'steps':>5}  {'mean':>8}  {'min':>8}  {'max':>8}  {'wheel off':>9}")
    for k in range(args.sections):
        sel = sections_a == k
        lo, hi = 100 * k / args.sections, 100 * (k + 1) / args.sections
        if not sel.any():
            print(f"{k:>7}  {lo:>4.0f}-{hi:<4.0f}  {0:>5}  {'-':>8}  {'-':>8}  {'-':>8}  {'-':>9}")
            continue
        r = rewards_a[sel]
        print(f"{k:>7}  {lo:>4.0f}-{hi:<4.0f}  {sel.sum():>5}  {r.mean():>8.3f}  {r.min():>8.3f}  {r.max():>8.3f}"
              f"  {100 * (~on_a[sel]).mean():>8.0f}%")
    if on_a.any() and (~on_a).any():
        print(f"\nAll wheels on track: mean reward {rewards_a[on_a].mean():.3f}; "
              f"a wheel off: {rewards_a[~on_a].mean():.3f}")
        if rewards_a[~on_a].mean() >= rewards_a[on_a].mean():
            print("warning: the function pays as much or more with a wheel off the track")
    out = Path(args.out) / f"reward_heatmap_{track.name}{'_reversed' if track.is_reversed else ''}.png"
    plot_track(track, out, points=(np.array(xs), np.array(ys)), values=rewards_a,
               title=f"Reward of {Path(source).name} on {track.name}")
    print(f"\nHeat map: {out}")
    return 0


def _print_failure(exc: RewardFunctionError, env: DeepRacerEnv) -> None:
    """The full params (but the long waypoint list) on stderr; main prints the one-line error."""
    print(f"reward function failed in episode {env.episode}, step {env.steps}; params:", file=sys.stderr)
    for key, value in exc.params.items():
        if key == "waypoints":
            value = f"[{len(value)} waypoints]"
        print(f"  {key}: {value!r}", file=sys.stderr)
