"""``deepracer-trainer local``: train with no Docker, no MinIO and no Gazebo (see docs/local.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from markov.cli.tracks import add_track_arguments
from markov.graph.precision import PRECISION_CHOICES
from markov.sim.randomization import FLAG_HELP, parse_randomization


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "local",
        help="train on this machine: embedded Redis, a store on disk, the trainer and rollout workers on the built-in simulator",
        description="Train a model end to end on this machine, with no argument needed. Ctrl-C saves a usable "
                    "checkpoint; running again with the same --out continues from it.",
    )
    add_track_arguments(parser)
    parser.add_argument("--model-metadata", type=Path, metavar="FILE", help="model_metadata.json (default: the package's)")
    parser.add_argument("--reward-function", type=Path, metavar="FILE", help="reward_function.py (default: the package's)")
    parser.add_argument("--hyperparameters", type=Path, metavar="FILE",
                        help="hyperparameters.json (default: small settings for a quick local run, see docs/local.md)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="rollout workers (default: 1)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--iterations", type=int, metavar="K", help="training iterations to run (default: none; --minutes decides)")
    stop.add_argument("--minutes", type=float, metavar="M", help="stop (with a saved checkpoint) after M minutes (default: 30)")
    parser.add_argument("--max-steps", type=int, default=600, metavar="N",
                        help="step limit per episode, 15 steps = 1 s (default: 600)")
    parser.add_argument("--domain-randomization", "--domain_randomization", dest="domain_randomization",
                        default="off", metavar="SPEC", help=FLAG_HELP)
    parser.add_argument("--out", type=Path, default=Path("deepracer-local"), metavar="DIR",
                        help="the run's folder; an existing model there is continued (default: ./deepracer-local)")
    parser.add_argument("--new-model", action="store_true",
                        help="start from fresh weights even if --out holds a model; its checkpoints stay and the new "
                             "ones are numbered after them (default: continue that model)")
    parser.add_argument("--redis-host", metavar="HOST", help="use this Redis instead of an embedded one (default: an embedded Redis on loopback)")
    parser.add_argument("--redis-port", type=int, metavar="PORT", help="port of that Redis (default 6379)")
    parser.add_argument("--redis-listen", metavar="ADDRESS",
                        help="let rollout workers on other machines reach the embedded Redis: it listens on ADDRESS "
                             "(e.g. 0.0.0.0) and asks for a generated password, with an ACL user where Redis allows, "
                             "printed once (default: loopback only, no password)")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="seed the initial weights, the trainer's shuffles and every worker's simulator and action "
                             "sampling, so that the run repeats (default: none, a fresh run each time)")
    parser.add_argument("--stop-at-progress", type=float, metavar="P",
                        help="stop (with a saved checkpoint) once an iteration's mean progress reaches P %% "
                             "(default: none)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, metavar="{" + ",".join(PRECISION_CHOICES) + "}",
                        help="the trainer's training precision (docs/performance.md; default: DEEPRACER_PRECISION, "
                             "else auto: bf16 on a CPU with AMX or AVX-512-BF16, fp32 otherwise)")
    parser.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                        help="do not write TensorBoard scalars to OUT/tensorboard (default: written)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.local.session import LocalOptions, run_local

    minutes = args.minutes if args.minutes is not None or args.iterations is not None else 30.0
    parse_randomization(args.domain_randomization)  # a bad value fails here, naming the flag, not in a child
    options = LocalOptions(out=args.out, track=args.track, tracks_dir=args.tracks_dir, model_metadata=args.model_metadata,
                           reward_function=args.reward_function, hyperparameters=args.hyperparameters,
                           workers=args.workers, iterations=args.iterations, minutes=minutes,
                           max_steps=args.max_steps, redis_host=args.redis_host, redis_port=args.redis_port,
                           redis_listen=args.redis_listen,
                           domain_randomization=args.domain_randomization, seed=args.seed,
                           stop_at_progress=args.stop_at_progress, tensorboard=args.tensorboard,
                           precision=args.precision, new_model=args.new_model)
    print(f"Training in {args.out.resolve()} (logs in {args.out.resolve() / 'logs'}); Ctrl-C stops with a saved checkpoint")
    result = run_local(options)
    if result.message:
        print(f"error: {result.message}", file=sys.stderr)
    print(f"{result.iterations} iterations this run. The model is in {result.model_prefix}")
    if result.plot is not None:
        print(f"Reward and progress per iteration: {result.plot}")
    if result.tensorboard is not None:
        print(f"Losses, entropy, KL, timings:      tensorboard --logdir {args.out}")
    print(f"Export it for the car:  deepracer-trainer export --checkpoint {result.model_prefix} --step best "
          f"--out {args.out / 'car.tar.gz'}")
    print(f"Continue training:      deepracer-trainer local --out {args.out}")
    return result.exit_code
