"""Run a trainer command from the docs until it is ready for rollout workers, then stop it with SIGTERM.

tests/test_docs.py puts this in front of every ``python -m training_worker`` line of the docs:
a documented trainer runs until stopped, and "it started, published its model and subscribed
to Redis, then stopped cleanly" is what the docs promise. Exit status: the trainer's (0 after
a clean stop), or 1 when it exits early or is not ready within the timeout.

    python run_trainer_briefly.py python -m training_worker --s3_bucket bucket ...
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import boto3

READY_TIMEOUT_S = 180


def ready_markers(client) -> set[tuple[str, str, object]]:
    """Every ``<prefix>/model/.ready`` in every bucket, with its time: written once the trainer subscribed (§4.2)."""
    found = set()
    for bucket in client.list_buckets().get("Buckets", []):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            found |= {(bucket["Name"], item["Key"], item["LastModified"]) for item in page.get("Contents", [])
                      if item["Key"].endswith("model/.ready")}
    return found


def main(command: list[str]) -> int:
    client = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None)
    earlier = ready_markers(client)  # an earlier run's marker does not count
    trainer = subprocess.Popen(command)
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while not ready_markers(client) - earlier:
            if trainer.poll() is not None:
                print(f"run_trainer_briefly: the trainer exited with {trainer.returncode} before it was ready",
                      file=sys.stderr)
                return trainer.returncode or 1
            if time.monotonic() > deadline:
                print(f"run_trainer_briefly: not ready after {READY_TIMEOUT_S} s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        trainer.send_signal(signal.SIGTERM)
        return trainer.wait(timeout=60)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
