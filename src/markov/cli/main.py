"""``deepracer-trainer`` / ``python -m markov``: one entry point, one module per subcommand.

Each subcommand lives in ``markov/cli/<name>.py`` and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed args and returning an exit
code. Errors a user can act on (``markov.errors.DeepRacerError``) become one line on stderr and
exit code 2; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from markov.cli import tensorflow_logging
from markov.errors import DeepRacerError

# Subcommand modules, in the order `--help` lists them.
SUBCOMMANDS = (
    "local",
    "init",
    "new_model",
    "rollout",
    "export",
    "evaluate",
    "reward_check",
    "pack",
)

log = logging.getLogger("markov.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepracer-trainer",
        description="Train AWS DeepRacer models locally: Coach Clipped PPO / SAC on TensorFlow 2.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"markov.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"markov.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.register(subparsers)
    return parser


def configure_logging(debug: bool = False) -> None:
    """Plain log lines on stdout: the formats tools parse (docs/protocol.md §8) carry no decoration."""
    tensorflow_logging.quiet(debug)  # before TensorFlow loads: its native start-up lines
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s" if not debug else "%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # TF's deprecation notices for the tf.compat.v1 APIs Coach needs are noise to a user.
    logging.getLogger("tensorflow").setLevel(logging.DEBUG if debug else logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.debug)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_guarded(args.func, args, debug=args.debug)


def run_guarded(func, args, debug: bool = False) -> int:
    """Run a command; turn a DeepRacerError into one line on stderr and its exit code."""
    try:
        return int(func(args) or 0)
    except DeepRacerError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
