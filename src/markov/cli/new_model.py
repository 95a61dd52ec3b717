"""``deepracer-trainer new-model``: a freshly initialised model to start training from.

It writes what the trainer publishes as its step-0 model (docs/protocol.md §6.1): the TF checkpoint
files ``0_Step-0.ckpt.*``, the TF ``checkpoint`` state file and ``.coach_checkpoint``. Users
upload it as a "pretrained" model when they have none, or inspect what a model_metadata.json
builds before training.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from markov.checkpoint_names import COACH_CHECKPOINT_FILE
from markov.errors import ConfigError

COMMAND = "new-model"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        COMMAND,
        help="write a freshly initialised checkpoint (0_Step-0.ckpt) for a model_metadata.json",
        description="Build the Coach graph for MODEL_METADATA and write its step-0 checkpoint into DIR, "
                    "exactly as the trainer publishes it.",
    )
    parser.add_argument("--model-metadata", required=True, metavar="FILE", help="model_metadata.json of the model")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write the checkpoint into")
    parser.add_argument("--hyperparameters", metavar="FILE",
                        help="hyperparameters.json (bare or SageMaker-wrapped); default: the image's defaults")
    parser.add_argument("--force", action="store_true", help="overwrite a checkpoint already in DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.hyperparameters import load_hyperparameters_file, parse_hyperparameters
    from markov.model_metadata import load_model_metadata

    metadata = load_model_metadata(args.model_metadata)
    hyperparameters = (load_hyperparameters_file(args.hyperparameters) if args.hyperparameters
                       else parse_hyperparameters({}))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory; name a directory")
    if (out / COACH_CHECKPOINT_FILE).exists() and not args.force:
        raise ConfigError(f"--out {out}: already holds a checkpoint ({COACH_CHECKPOINT_FILE}); pass --force to overwrite "
                          "or choose an empty directory")
    out.mkdir(parents=True, exist_ok=True)

    from markov.graph.manager import build_graph_manager, create_graph
    from markov.training.coach_log import use_image_log_format

    use_image_log_format()  # Coach's titles as plain log lines: no ANSI colour codes in a pipe or a file
    manager = build_graph_manager(metadata, hyperparameters)
    with tempfile.TemporaryDirectory(prefix="deepracer-new-model-") as experiment_path:
        create_graph(manager, experiment_path=experiment_path)
        # save straight into --out; graphdef.pb is not part of a published model (§6.1)
        manager.task_parameters.checkpoint_save_dir = str(out)
        manager.save_checkpoint()
        manager.sess.close()
    saved = sorted(p.name for p in out.iterdir() if p.name.startswith("0_Step-0.ckpt"))
    print(f"Wrote a new {metadata.training_algorithm} model for sensors {list(metadata.sensors)} "
          f"({metadata.neural_network}) to {out}: {', '.join(saved)}, checkpoint, .coach_checkpoint")
    return 0
