"""Helpers for the trainer tests that run real processes: subprocess environment, bucket listing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BUCKET = "bucket"
REGION = "us-east-1"
SRC = Path(__file__).resolve().parents[2] / "src"


def bucket_keys(s3_client, prefix: str = "") -> set[str]:
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this one, with src/ importable and unbuffered output."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def start_trainer(args: list[str], log_path: Path, **env: str) -> subprocess.Popen:
    """``python -m training_worker ARGS`` with stdout and stderr in ``log_path``."""
    log = open(log_path, "wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "training_worker", *args], stdout=log, stderr=subprocess.STDOUT,
                                env=python_env(**env))
    finally:
        log.close()


# Tiny settings: an iteration of 2 episodes x 10 steps trains in about a second on a CPU.
TINY_HYPERPARAMETERS = {"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 16,
                        "term_cond_max_episodes": 1000}
METADATA_KEY = "custom_files/model_metadata.json"


def upload_default_metadata(s3_client) -> str:
    """Put the package's model_metadata.json where ``deepracer-trainer init`` does; returns its s3:// URI."""
    from markov.defaults import MODEL_METADATA

    s3_client.upload_file(str(MODEL_METADATA), BUCKET, METADATA_KEY)
    return f"s3://{BUCKET}/{METADATA_KEY}"


def trainer_args(endpoint: str, prefix: str, redis_port: int, work_dir: Path, *extra: str) -> list[str]:
    """The guide's trainer invocation against a local endpoint and Redis, for rollouts on this host."""
    return ["--model_metadata_s3_key", f"s3://{BUCKET}/{METADATA_KEY}", "--s3_bucket", BUCKET, "--s3_prefix", prefix,
            "--s3_endpoint_url", endpoint, "--redis_host", "127.0.0.1", "--redis_port", str(redis_port),
            "--redis_public_ip", "127.0.0.1", "--work_dir", str(work_dir), *extra]


def wait_for_key(s3_client, key: str, process: subprocess.Popen, timeout: float, log_path: Path) -> None:
    """Poll until ``key`` exists; fail early, with the trainer's log, if the trainer has exited."""
    import time

    deadline = time.monotonic() + timeout
    while key not in bucket_keys(s3_client, key):
        if process.poll() is not None:
            raise AssertionError(f"trainer exited ({process.returncode}) before {key} appeared:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} did not appear within {timeout} s:\n{log_path.read_text()}")
        time.sleep(0.2)
