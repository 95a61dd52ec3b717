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
from markov.config import DefaultsHelpFormatter
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
    "tracks",
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
    for subparser in subparsers.choices.values():
        one_flag_style(subparser)
        subparser.formatter_class = DefaultsShownFormatter
    return parser


# Other names of a flag, accepted everywhere and shown as the name they stand for.
FLAG_ALIASES = {"--out-dir": "--out"}


def one_flag_style(parser: argparse.ArgumentParser) -> None:
    """Show every long flag hyphenated (``--s3-bucket``) and accept the underscore spelling too (``--s3_bucket``).

    The subcommands mix two traditions: the trainer's flags are the image's underscore names
    (``python -m training_worker`` keeps them, docs/protocol.md §1.2), the rest of the CLI hyphenates.
    Users type either, so both work everywhere; help and errors name the hyphenated one. The
    names in :data:`FLAG_ALIASES` work the same way (``--out-dir`` is ``--out``).
    """
    for action in parser._actions:
        shown: list[str] = []
        for option in action.option_strings:
            if not option.startswith("--"):
                shown.append(option)
                continue
            hyphenated = "--" + option[2:].replace("_", "-")
            name = FLAG_ALIASES.get(hyphenated, hyphenated)
            for spelling in {hyphenated, name, *(alias for alias, target in FLAG_ALIASES.items() if target == name)}:
                parser._option_string_actions.setdefault(spelling, action)
                parser._option_string_actions.setdefault("--" + spelling[2:].replace("-", "_"), action)
            if name not in shown:
                shown.append(name)
        action.option_strings = shown


DefaultsShownFormatter = DefaultsHelpFormatter  # every flag's help ends with its default (markov.config)


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
