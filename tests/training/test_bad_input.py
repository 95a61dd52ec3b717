"""Issue 6, item 6: each kind of bad input is one ``error: ...`` line on stderr and exit code 2.

Most of these fail before the graph is built, so ``training_worker.main`` runs in this process
against moto's in-process mock (or a closed local port for the unreachable cases). Redis is only
contacted after the graph is built, so that case runs the trainer as a subprocess.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import boto3
import pytest
from moto import mock_aws

import training_worker
from markov.memory.redis_server import free_port
from trainer_processes import BUCKET, REGION, python_env, trainer_args

METADATA_KEY = "custom_files/model_metadata.json"
GOOD_METADATA = {
    "action_space": [{"steering_angle": 0, "speed": 1.0}, {"steering_angle": 30, "speed": 1.0}],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}


@pytest.fixture(autouse=True)
def keep_root_logging():
    """training_worker.main configures the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def mocked_s3(aws_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def put_metadata(client, body) -> None:
    client.put_object(Bucket=BUCKET, Key=METADATA_KEY, Body=body if isinstance(body, bytes) else json.dumps(body).encode())


def trainer_argv(tmp_path, *extra: str) -> list[str]:
    return ["--model_metadata_s3_key", f"s3://{BUCKET}/{METADATA_KEY}", "--s3_bucket", BUCKET, "--s3_prefix", "rl-bad",
            "--work_dir", str(tmp_path / "work"), "--connect_timeout", "1", *extra]


def assert_one_error_line(capsys, code: int, *fragments: str) -> str:
    """The one stderr line; what went to stdout (the log) is left in ``capsys.logged``."""
    assert code == 2
    captured = capsys.readouterr()
    capsys.logged = captured.out
    err = captured.err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def with_metadata(**changes) -> dict:
    return {**GOOD_METADATA, **changes}


@pytest.mark.parametrize("body, fragments", [
    (b"{not json", ("invalid JSON", "model_metadata")),
    (b"[1, 2]", ("JSON object",)),
    (with_metadata(sensor=["FRONT_FACING_CAMERA", "SONAR"]), ("SONAR",)),
    (with_metadata(neural_network="DEEP_CONVOLUTIONAL_NETWORK_HUGE"), ("DEEP_CONVOLUTIONAL_NETWORK_HUGE",)),
    (with_metadata(action_space=[]), ("action",)),
    (with_metadata(training_algorithm="dqn"), ("dqn",)),
], ids=["not-json", "not-an-object", "unknown-sensor", "unknown-network", "no-actions", "unknown-algorithm"])
def test_invalid_model_metadata(tmp_path, mocked_s3, capsys, body, fragments):
    put_metadata(mocked_s3, body)
    code = training_worker.main(trainer_argv(tmp_path))
    line = assert_one_error_line(capsys, code, *fragments)
    assert line.startswith(f"error: s3://{BUCKET}/{METADATA_KEY}: "), "the message names the user's file"
    # Nothing was published for a model that cannot be trained.
    assert "Contents" not in mocked_s3.list_objects_v2(Bucket=BUCKET, Prefix="rl-bad/")


def test_missing_model_metadata(tmp_path, mocked_s3, capsys):
    code = training_worker.main(trainer_argv(tmp_path))
    assert_one_error_line(capsys, code, f"s3://{BUCKET}/{METADATA_KEY}", "--model_metadata_s3_key")


def test_model_metadata_key_not_given(tmp_path, mocked_s3, capsys):
    code = training_worker.main(["--s3_bucket", BUCKET])
    assert_one_error_line(capsys, code, "--model_metadata_s3_key")


@pytest.mark.parametrize("value, fragments", [
    ('{"batch_size": "many"}', ("batch_size",)),
    ('{"lr": 0.001', ("invalid JSON", "SM_TRAINING_ENV")),
    ("missing-hyperparameters.json", ("missing-hyperparameters.json",)),
], ids=["bad-value", "bad-json", "missing-file"])
def test_malformed_hyperparameters(tmp_path, mocked_s3, capsys, monkeypatch, value, fragments):
    put_metadata(mocked_s3, GOOD_METADATA)
    monkeypatch.setenv("SM_TRAINING_ENV", value)
    code = training_worker.main(trainer_argv(tmp_path))
    assert_one_error_line(capsys, code, *fragments)


def test_bucket_does_not_exist(tmp_path, mocked_s3, capsys):
    code = training_worker.main(trainer_argv(tmp_path, "--s3_bucket", "no-such-bucket"))
    assert_one_error_line(capsys, code, "no-such-bucket", "does not exist")


def test_credentials_refused(tmp_path, mocked_s3, capsys, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto now checks keys against its IAM
    code = training_worker.main(trainer_argv(tmp_path))
    assert_one_error_line(capsys, code, BUCKET, "AWS_ACCESS_KEY_ID")


def test_unreachable_s3_endpoint_is_retried_then_named(tmp_path, aws_env, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = free_port()  # nothing listens there
    began = time.monotonic()
    code = training_worker.main(trainer_argv(tmp_path, "--s3_endpoint_url", f"http://127.0.0.1:{port}",
                                             "--connect_timeout", "3"))
    took = time.monotonic() - began
    line = assert_one_error_line(capsys, code, f"127.0.0.1:{port}", "S3_ENDPOINT_URL")
    assert "cannot reach" in line
    assert 3 <= took < 15, f"retried for {took:.1f} s; --connect_timeout 3 bounds it"
    # The wait is not silent: what it waits for, where, and for how long (issue item 5).
    assert f"still connecting to s3://{BUCKET} at http://127.0.0.1:{port}" in capsys.logged
    assert "retrying for another 3 s" in capsys.logged


@pytest.mark.slow
def test_unreachable_redis_is_retried_then_named(tmp_path, s3, moto_endpoint):
    """Redis is contacted after the graph is built: a subprocess, as a user would run it."""
    s3.put_object(Bucket=BUCKET, Key=METADATA_KEY, Body=json.dumps(GOOD_METADATA).encode())
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "training_worker",
         *trainer_args(moto_endpoint, "rl-bad", port, tmp_path / "work", "--connect_timeout", "2")],
        env=python_env(SM_TRAINING_ENV=json.dumps({"num_episodes_between_training": 2})),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()  # TensorFlow's native start-up lines included: there are none
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "unreachable" in lines[0] and "REDIS_PORT" in lines[0]
    # The run started: its markers are in the bucket, .finished included, so workers stop too.
    finished = s3.list_objects_v2(Bucket=BUCKET, Prefix="rl-bad/model/.finished")
    assert finished.get("KeyCount") == 1
