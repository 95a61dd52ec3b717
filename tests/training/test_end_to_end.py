"""Issue 6, item 7: moto S3 server, real redis-server, ``python -m training_worker`` and a rollout process.

The rollout (fake_gazebo_rollout.py) behaves like a simulation worker: it publishes synthetic
episodes over Redis and, before each new round, waits for the next checkpoint in the bucket and
restores it into its own graph. Three iterations, then SIGTERM: the trainer must publish a last
checkpoint, write ``.finished`` and exit 0.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trainer_processes import (TINY_HYPERPARAMETERS, bucket_keys, python_env, start_trainer, trainer_args,
                               upload_default_metadata)

pytestmark = pytest.mark.slow

ROLLOUT = Path(__file__).with_name("fake_gazebo_rollout.py")
PREFIX = "rl-e2e"
ITERATIONS = 3
# 60 transitions arrive in 3 iterations: every 7th is a sample, 3 in all (docs/protocol.md §4.3).
SAMPLING = {"max_sample_count": 3, "sampling_frequency": 7}


def test_three_iterations_then_sigterm(tmp_path, s3_server, redis_server):
    endpoint, s3 = s3_server  # moto, then SeaweedFS: a real S3 implementation (docs/reliability.md)
    upload_default_metadata(s3)
    trainer_log = tmp_path / "trainer.log"
    trainer = start_trainer(trainer_args(endpoint, PREFIX, redis_server.port, tmp_path / "work"), trainer_log,
                            SM_TRAINING_ENV=json.dumps({**TINY_HYPERPARAMETERS, **SAMPLING}))
    report_path = tmp_path / "rollout.json"
    try:
        rollout = subprocess.run(
            [sys.executable, str(ROLLOUT), "--endpoint", endpoint, "--bucket", "bucket", "--prefix", PREFIX,
             "--redis_port", str(redis_server.port), "--iterations", str(ITERATIONS), "--episodes", "2",
             "--steps", "10", "--report", str(report_path), "--work_dir", str(tmp_path / "rollout")],
            env=python_env(), capture_output=True, text=True, timeout=240)
        assert rollout.returncode == 0, rollout.stdout + rollout.stderr + trainer_log.read_text()
        assert trainer.poll() is None, trainer_log.read_text()

        trainer.send_signal(signal.SIGTERM)
        assert trainer.wait(timeout=60) == 0, trainer_log.read_text()
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()

    report = json.loads(report_path.read_text())
    # The rollout restored checkpoint 0 at start and the one after each iteration, in order.
    assert [entry["number"] for entry in report["restored"]] == [0, 1, 2, 3]
    assert [entry["checkpoint"].split("_")[0] for entry in report["restored"]] == ["0", "1", "2", "3"]
    assert report["acked"] == [True] * ITERATIONS
    fingerprints = [entry["fingerprint"] for entry in report["restored"]]
    assert len(set(fingerprints)) == len(fingerprints), "each training iteration must change the restored weights"

    keys = bucket_keys(s3, PREFIX + "/")
    model = f"{PREFIX}/model/"
    for postfix in ("ip/ip.json", "ip/done", "ip/hyperparameters.json", "model/model_metadata.json",
                    "model/.coach_checkpoint", "model/.ready", "model/.finished"):
        assert f"{PREFIX}/{postfix}" in keys, postfix
    assert f"{model}.lock" not in keys
    # SIGTERM while waiting for iteration 4 publishes checkpoint 4 once more; the 4 newest stay (§4.3).
    pointer = s3.get_object(Bucket="bucket", Key=f"{model}.coach_checkpoint")["Body"].read().decode()
    assert pointer.startswith("4_Step-")
    numbers = {key[len(model):].split("_")[0] for key in keys if key.startswith(model) and ".ckpt." in key}
    assert numbers == {"1", "2", "3", "4"}
    assert {f"{model}model_{n}.pb" for n in (1, 2, 3, 4)} <= keys
    assert f"{model}model_0.pb" not in keys
    assert {key for key in keys if "/samples/" in key} == {f"{PREFIX}/samples/sample_{k}.pkl" for k in range(3)}
    ip = json.loads(s3.get_object(Bucket="bucket", Key=f"{PREFIX}/ip/ip.json")["Body"].read())
    assert ip == {"IP": "127.0.0.1"}

    log = trainer_log.read_text()
    assert "Traceback" not in log
    assert log.count("Iteration ") >= ITERATIONS and "Received SIGTERM" in log
