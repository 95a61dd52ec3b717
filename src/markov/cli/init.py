"""``deepracer-trainer init``: the bucket and custom files a training run needs, and how to start it.

It replaces the guide's manual folder creation. The files go where DRfC keeps them
(``custom_files/...`` at the bucket root, docs/protocol.md §1.1 and §1.5), so DRfC's simulation side
and this trainer read the same ones. Running it again is safe: a file that already exists with
other content is kept unless ``--force`` is given.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from markov.config import aws_region, env_value
from markov.defaults import HYPERPARAMETERS, MODEL_METADATA, REWARD_FUNCTION
from markov.errors import ConfigError
from markov.hyperparameters import load_hyperparameters_file
from markov.model_metadata import load_model_metadata
from markov.store import keys
from markov.store.backend import ObjectStore, get_bytes_or_none
from markov.store.keys import ModelKeys
from markov.store.s3 import ENDPOINT_ENV, S3Store, display_endpoint, endpoint_from_env

DEFAULT_PREFIX = "rl-deepracer-sagemaker"  # DRfC's DR_LOCAL_S3_MODEL_PREFIX default


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create the bucket and upload model_metadata.json, reward_function.py, hyperparameters.json",
        description=(
            "Create the bucket if missing and upload the custom files to custom_files/ (the keys DRfC uses). "
            "Files not given come from the package defaults. Existing files with other content are kept "
            "unless --force. Prints the command that starts the trainer."
        ),
    )
    parser.add_argument("--s3-bucket", required=True, metavar="BUCKET", help="bucket for custom files and models")
    parser.add_argument("--s3-prefix", default=DEFAULT_PREFIX, metavar="PREFIX",
                        help="the model's prefix in the bucket (default %(default)s)")
    parser.add_argument("--model-metadata", type=Path, metavar="FILE", help="model_metadata.json (default: the package's)")
    parser.add_argument("--reward-function", type=Path, metavar="FILE", help="reward_function.py (default: the package's)")
    parser.add_argument("--hyperparameters", type=Path, metavar="FILE", help="hyperparameters.json (default: the package's)")
    parser.add_argument("--force", action="store_true", help="overwrite custom files that differ from the ones given")
    parser.add_argument("--s3-endpoint-url", default=None, metavar="URL",
                        help=f"S3/MinIO endpoint, e.g. http://localhost:9000 (default: ${ENDPOINT_ENV}, else AWS)")
    parser.add_argument("--aws-region", default=None, metavar="REGION",
                        help="AWS region (default: $AWS_REGION, else us-east-1)")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class CustomFile:
    label: str
    local: Path
    key: str


def run(args: argparse.Namespace) -> int:
    endpoint = args.s3_endpoint_url or endpoint_from_env()
    region = args.aws_region or aws_region()
    files = [
        CustomFile("model_metadata.json", args.model_metadata or MODEL_METADATA, keys.CUSTOM_MODEL_METADATA),
        CustomFile("reward_function.py", args.reward_function or REWARD_FUNCTION, keys.CUSTOM_REWARD_FUNCTION),
        CustomFile("hyperparameters.json", args.hyperparameters or HYPERPARAMETERS, keys.CUSTOM_HYPERPARAMETERS),
    ]
    validate_custom_files(*(custom.local for custom in files))
    store = S3Store(args.s3_bucket, endpoint_url=endpoint, region=region, attempts=3)

    created = store.ensure_bucket()
    print(f"{'Created' if created else 'Using'} bucket {store.location}")
    for custom in files:
        print(f"  {upload_custom_file(store, custom, force=args.force)}")
    warn_if_prefix_in_use(store, ModelKeys(args.s3_prefix))

    hyperparameters = (args.hyperparameters or HYPERPARAMETERS).absolute()
    print()
    print(next_steps(args.s3_bucket, args.s3_prefix, endpoint, region, hyperparameters))
    return 0


def validate_custom_files(model_metadata: Path, reward_function: Path, hyperparameters: Path) -> None:
    """Refuse files the trainer or the simulator would reject later, naming the file."""
    load_model_metadata(model_metadata)
    load_hyperparameters_file(hyperparameters)
    try:
        tree = ast.parse(reward_function.read_text(encoding="utf-8-sig"), filename=str(reward_function))
    except FileNotFoundError:
        raise ConfigError(f"{reward_function} does not exist; pass --reward-function FILE") from None
    except SyntaxError as exc:
        raise ConfigError(f"{reward_function}:{exc.lineno}: syntax error: {exc.msg}") from None
    if not any(isinstance(node, ast.FunctionDef) and node.name == "reward_function" for node in tree.body):
        raise ConfigError(f"{reward_function} does not define reward_function(params); the simulator calls that name")


def upload_custom_file(store: ObjectStore, custom: CustomFile, *, force: bool) -> str:
    """Upload one file unless a different one is already there; returns what happened, for the user."""
    data = custom.local.read_bytes()
    existing = get_bytes_or_none(store, custom.key)
    where = store.uri(custom.key)
    if existing == data:
        return f"{where}: unchanged"
    if existing is not None and not force:
        return f"{where}: kept the existing file, which differs from {custom.local} (use --force to overwrite)"
    store.put_bytes(custom.key, data)
    return f"{where}: {'replaced' if existing is not None else 'uploaded'} from {custom.local}"


def warn_if_prefix_in_use(store: ObjectStore, model: ModelKeys) -> None:
    used = store.list(model.key(keys.MODEL_DIR) + "/") + store.list(model.key(keys.IP_DIR) + "/")
    if used:
        print(f"  note: {store.uri(model.key(keys.MODEL_DIR))}/ already holds {len(used)} objects of an earlier run; "
              "start a new model with another --s3-prefix, or remove them first")


def next_steps(bucket: str, prefix: str, endpoint: str | None, region: str, hyperparameters: Path) -> str:
    """The trainer command and environment, in the user's shell; credentials appear only as placeholders."""
    powershell = os.name == "nt"
    env: list[tuple[str, str]] = []
    if endpoint:
        env.append((ENDPOINT_ENV, display_endpoint(endpoint)))
    for name, placeholder in (("AWS_ACCESS_KEY_ID", "<your access key>"), ("AWS_SECRET_ACCESS_KEY", "<your secret key>")):
        if not env_value(name) and not env_value("AWS_PROFILE"):
            env.append((name, placeholder))
    env.append(("SM_TRAINING_ENV", str(hyperparameters)))
    command = ["python", "-m", "training_worker", "--s3_bucket", bucket, "--s3_prefix", prefix,
               "--model_metadata_s3_key", keys.s3_uri(bucket, keys.CUSTOM_MODEL_METADATA), "--aws_region", region]
    lines = ["Next: set these variables and start the trainer" + (" (PowerShell):" if powershell else ":")]
    for name, value in env:
        lines.append(f'  $env:{name} = {json.dumps(value)}' if powershell else f"  export {name}={shlex.quote(value)}")
    quote = (lambda part: json.dumps(part) if " " in part else part) if powershell else shlex.quote
    lines.append("  " + " ".join(quote(part) for part in command))
    return "\n".join(lines)
