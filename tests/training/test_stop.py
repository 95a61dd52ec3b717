"""Issue 6, item 4: SIGTERM / Ctrl-C finish the step, publish, write ``.finished`` and exit 0; a second one exits at once.

The GracefulStop tests send real signals to this process; the slow tests do it to a trainer
process waiting for episodes that never come.
"""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from markov.training.stop import GracefulStop, StopRequested
from trainer_processes import (TINY_HYPERPARAMETERS, bucket_keys, start_trainer, trainer_args,
                               upload_default_metadata, wait_for_key)


@pytest.fixture
def stop():
    graceful = GracefulStop().install()
    yield graceful
    graceful.uninstall()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_a_step_only_sets_the_flag(stop, signum):
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs between bytecodes of the main thread
    assert stop.requested and stop.signal_name == signal.Signals(signum).name
    with pytest.raises(StopRequested):  # the next wait does not start
        with stop.interruptible():
            pass


def test_signal_during_a_wait_interrupts_it(stop):
    with pytest.raises(StopRequested):
        with stop.interruptible():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert stop.requested


def test_second_signal_exits_at_once(stop, monkeypatch):
    exits = []
    monkeypatch.setattr(os, "_exit", lambda code: exits.append(code))
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)
    assert exits == []
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)
    assert exits == [130]


def test_uninstall_restores_the_previous_handlers():
    before = signal.getsignal(signal.SIGTERM)
    graceful = GracefulStop().install()
    assert signal.getsignal(signal.SIGTERM) != before
    graceful.uninstall()
    assert signal.getsignal(signal.SIGTERM) == before


def start_waiting_trainer(tmp_path, s3, endpoint, redis_server):
    """A trainer that has published checkpoint 0 and ``.ready`` and now waits for episodes."""
    upload_default_metadata(s3)
    log_path = tmp_path / "trainer.log"
    trainer = start_trainer(trainer_args(endpoint, "rl-stop", redis_server.port, tmp_path / "work"), log_path,
                            SM_TRAINING_ENV=json.dumps(TINY_HYPERPARAMETERS))
    wait_for_key(s3, "rl-stop/model/.ready", trainer, 120, log_path)
    return trainer, log_path


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_trainer_stops_cleanly_while_waiting_for_episodes(tmp_path, s3, moto_endpoint, redis_server, signum):
    trainer, log_path = start_waiting_trainer(tmp_path, s3, moto_endpoint, redis_server)
    try:
        time.sleep(1.0)  # into the fetch
        sent = time.monotonic()
        trainer.send_signal(signum)
        assert trainer.wait(timeout=60) == 0, log_path.read_text()
        assert time.monotonic() - sent < 60
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    keys = bucket_keys(s3, "rl-stop/")
    assert "rl-stop/model/.finished" in keys and "rl-stop/model/.lock" not in keys
    # The stop publishes the model once more: checkpoint 1, with its frozen graph.
    pointer = s3.get_object(Bucket="bucket", Key="rl-stop/model/.coach_checkpoint")["Body"].read().decode()
    assert pointer.startswith("1_Step-0.ckpt") and "rl-stop/model/model_1.pb" in keys
    log = log_path.read_text()
    assert f"Received {signal.Signals(signum).name}" in log and "Traceback" not in log


@pytest.mark.slow
def test_second_ctrl_c_exits_at_once(tmp_path, s3, moto_endpoint, redis_server):
    trainer, log_path = start_waiting_trainer(tmp_path, s3, moto_endpoint, redis_server)
    try:
        time.sleep(1.0)
        trainer.send_signal(signal.SIGINT)
        time.sleep(0.05)  # the first one is saving the last checkpoint now
        sent = time.monotonic()
        trainer.send_signal(signal.SIGINT)
        assert trainer.wait(timeout=10) == 130, log_path.read_text()
        assert time.monotonic() - sent < 5
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    assert "again: exiting now without saving" in log_path.read_text()
