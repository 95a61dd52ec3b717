"""``deepracer-trainer evaluate``: drive a car model or a run's checkpoint in the built-in simulator."""
from __future__ import annotations

import argparse

from markov.cli.tracks import add_track_arguments
from markov.export.checkpoint_selection import parse_step
from markov.sim.camera_clip import CAMERA_HZ, CLIP_NAME, DEFAULT_SECONDS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="run a car model.tar.gz or a run's checkpoint in the built-in simulator: lap times, progress, off-tracks, speed",
        description="Run the frozen model of a car archive (or a folder with agent/model.pb and model_metadata.json), or "
                    "a checkpoint of a run's folder (frozen as export would), for a few laps. Results are laid out as "
                    "DRfC's evaluations are, where deepracer-utils finds them: evaluation-<time>/evaluation-simtrace/"
                    "0-iteration.csv, evaluation-<time>/laps.png and metrics/EvaluationMetrics-<time>.json; "
                    f"with --camera-gif also evaluation-<time>/{CLIP_NAME}, the camera frames the model saw.",
    )
    parser.add_argument("--model", required=True, metavar="model.tar.gz|DIR",
                        help="a car archive or folder, or a run's folder (its model prefix, e.g. runs/first/store/deepracer-local)")
    parser.add_argument("--step", default="best", type=parse_step, metavar="best|last|N",
                        help="for a run's folder: which checkpoint (default: best)")
    add_track_arguments(parser, default=None, default_text="the run's recorded track, else oval")
    parser.add_argument("--laps", type=int, default=3, metavar="N", help="laps to drive (default: 3)")
    parser.add_argument("--max-steps", type=int, default=3000, metavar="N", help="step limit per lap, 15 steps = 1 s (default: 3000)")
    parser.add_argument("--out-dir", "--out", dest="out_dir", default=None, metavar="DIR",
                        help="root folder of the results (default: the run's folder for a run, else ./evaluation)")
    parser.add_argument("--camera-gif", nargs="?", const="", default=None, metavar="PATH",
                        help="also write an animated GIF of the camera frames the model got in lap 1 (grey, 2x; "
                             f"stereo side by side), to PATH or, without one, {CLIP_NAME} beside laps.png (default: none)")
    parser.add_argument("--gif-seconds", type=float, default=None, metavar="S",
                        help=f"seconds of lap 1 the GIF shows, at the camera's {CAMERA_HZ} frames/s; implies "
                             f"--camera-gif (default: {DEFAULT_SECONDS:g})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.sim.camera_clip import camera_clip
    from markov.sim.evaluation import evaluate

    clip = None
    if args.camera_gif is not None or args.gif_seconds is not None:
        seconds = DEFAULT_SECONDS if args.gif_seconds is None else args.gif_seconds
        clip = camera_clip(args.camera_gif or None, seconds)
    output = evaluate(args.model, track=args.track, tracks_dir=args.tracks_dir, laps=args.laps,
                      max_steps=args.max_steps, out_dir=args.out_dir, step=args.step, camera_clip=clip)
    print(f"{'lap':>3}  {'status':<13} {'progress %':>10} {'lap time s':>10} {'off-track':>9} {'speed m/s':>9}")
    for r in output.laps:
        lap_time = f"{r.lap_time:.2f}" if r.lap_time is not None else "-"
        print(f"{r.lap:>3}  {r.status:<13} {r.progress:>10.1f} {lap_time:>10} {r.off_track:>9} {r.mean_speed:>9.2f}")
    written = [output.simtrace, output.metrics] + [p for p in (output.plot, output.camera_clip) if p]
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0
