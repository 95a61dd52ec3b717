"""One flag style across the subcommands, help and defaults on every flag, settings read in config.py only."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from markov.cli.main import DefaultsShownFormatter, build_parser, main
from markov.config import build_arg_parser

SRC = Path(__file__).resolve().parents[2] / "src"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (choices,) = [action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings and not isinstance(action, argparse._HelpAction)]


def test_every_flag_is_shown_hyphenated_with_help_and_its_default():
    commands = subcommands()
    assert {"local", "init", "new-model", "rollout", "export", "evaluate", "reward-check", "pack"} <= set(commands)
    for name, parser in commands.items():
        formatter = DefaultsShownFormatter(prog=name)
        for action in options(parser):
            flags = [flag for flag in action.option_strings if flag.startswith("--")]
            assert flags and all("_" not in flag for flag in flags), (name, action.option_strings)
            assert action.help, f"{name} {flags[0]} has no help text"
            if not action.required and action.nargs != 0:  # a value flag: its default is said
                assert "default" in formatter._get_help_string(action).lower(), f"{name} {flags[0]}: no default shown"


def test_help_names_a_default_argparse_knows():
    text = subcommands()["rollout"].format_help()
    assert "--num-workers NUM_WORKERS" in text and "rollout workers in all (default 1)" in text
    assert "--worker_index" not in text  # one spelling shown


@pytest.mark.parametrize("command, spellings, dest, value", [
    ("init", ("--s3-bucket", "--s3_bucket"), "s3_bucket", "b"),
    ("rollout", ("--s3-bucket", "--s3_bucket"), "s3_bucket", "b"),
    ("rollout", ("--worker-index", "--worker_index"), "worker_index", 3),
    ("local", ("--max-steps", "--max_steps"), "max_steps", 3),
    ("evaluate", ("--out", "--out-dir", "--out_dir"), "out_dir", "results"),
    ("reward-check", ("--out", "--out-dir"), "out", "results"),
])
def test_both_spellings_are_accepted(command, spellings, dest, value):
    required = {"init": [], "rollout": [], "local": [], "evaluate": ["--model", "m.tar.gz"], "reward-check": []}[command]
    for spelling in spellings:
        args = build_parser().parse_args([command, *required, spelling, str(value)])
        assert getattr(args, dest) == value, spelling


def test_a_bad_rollout_idx_fails_rollout_only(monkeypatch, capsys):
    monkeypatch.setenv("ROLLOUT_IDX", "abc")
    with pytest.raises(SystemExit) as exit_:
        main(["reward-check", "--help"])
    assert exit_.value.code == 0
    capsys.readouterr()
    assert main(["rollout", "--local-store", "unused"]) == 2
    assert capsys.readouterr().err.strip() == "error: ROLLOUT_IDX = 'abc' is not an integer"


def test_trainer_and_rollout_default_the_region_alike(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    trainer = build_arg_parser().parse_known_args([])[0].aws_region
    rollout = build_parser().parse_args(["rollout"]).aws_region
    assert trainer == rollout == "eu-west-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert build_arg_parser().parse_known_args([])[0].aws_region == build_parser().parse_args(["rollout"]).aws_region \
        == "us-east-1"


# Reading a setting from the environment; handing the environment on to a child process is not reading.
ENV_READ = re.compile(r"os\.environ(\.get\(|\[)|os\.getenv\(|environ\.get\(")


def test_env_vars_are_read_in_config_only():
    readers = sorted(str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
                     if path.name != "config.py" and ENV_READ.search(path.read_text(encoding="utf-8")))
    assert readers == []


def test_the_trainer_help_shows_every_default_too():
    parser = build_arg_parser({})
    formatter = parser.formatter_class(prog=parser.prog)
    for action in options(parser):
        assert action.help, action.option_strings
        if action.nargs != 0:
            text = formatter._get_help_string(action).lower()
            assert "default" in text or "required" in text, action.option_strings
    assert "environment variables:\n  SM_TRAINING_ENV" in parser.format_help()  # the table keeps its layout
