"""``deepracer-trainer evaluate``: drive a car model in the built-in simulator."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="run a car model.tar.gz in the built-in simulator: lap times, progress, off-tracks, speed",
        description="Run the frozen model of a car archive (or a folder with agent/model.pb and model_metadata.json) "
                    "for a few laps; write the simtrace CSV and a PNG of the driven line.",
    )
    parser.add_argument("--model", required=True, metavar="model.tar.gz|DIR")
    parser.add_argument("--track", default="oval", metavar="T", help="built-in track (oval, twisty) or a route .npy (default: oval)")
    parser.add_argument("--laps", type=int, default=3, metavar="N", help="laps to drive (default: 3)")
    parser.add_argument("--max-steps", type=int, default=3000, metavar="N", help="step limit per lap (15 steps = 1 s)")
    parser.add_argument("--out-dir", default="evaluation", metavar="DIR", help="where simtrace.csv and laps.png go (default: ./evaluation)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.export.evaluation import evaluate

    out_dir = Path(args.out_dir)
    results = evaluate(args.model, track=args.track, laps=args.laps, max_steps=args.max_steps,
                       simtrace=out_dir / "simtrace.csv", plot=out_dir / "laps.png")
    print(f"{'lap':>3}  {'status':<13} {'progress %':>10} {'lap time s':>10} {'off-track':>9} {'speed m/s':>9}")
    for r in results:
        lap_time = f"{r.lap_time:.2f}" if r.lap_time is not None else "-"
        print(f"{r.lap:>3}  {r.status:<13} {r.progress:>10.1f} {lap_time:>10} {r.off_track:>9} {r.mean_speed:>9.2f}")
    print(f"Wrote {out_dir / 'simtrace.csv'} and {out_dir / 'laps.png'}")
    return 0
