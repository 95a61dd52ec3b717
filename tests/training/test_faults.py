"""Issue 15: a rerun never clobbers the model, and S3 outages are ridden out (the fast subset of bench/faults.py).

Real processes: the trainer, a rollout (fake_gazebo_rollout.py) that keeps running across the
trainer's restarts, a redis-server, and moto or SeaweedFS, reached through a loopback proxy
that drops connections or answers 503 on command. Redis drops have their own tests in
tests/memory/test_redis_reconnect.py.
"""
from __future__ import annotations

import contextlib
import signal
import time

import pytest

from fault_harness import FaultRun
from s3_fault_proxy import S3FaultProxy
from trainer_processes import TINY_HYPERPARAMETERS, start_trainer, trainer_args, upload_default_metadata, wait_for_key

pytestmark = pytest.mark.slow


def test_rerun_after_sigkill_continues_the_model(tmp_path, s3_server, redis_server):
    endpoint, client = s3_server
    run = FaultRun(tmp_path, client, endpoint, redis_server.port, iterations=4).start()
    try:
        run.wait_for_pointer(2)
        time.sleep(0.5)  # into iteration 3: its episodes fetched or being trained on
        assert run.signal_trainer(signal.SIGKILL) == -signal.SIGKILL
        run.rerun_trainer()
        outcome = run.finish()
    finally:
        run.close()
    assert outcome.nothing_lost, (outcome, run.tail())
    # Checkpoints 0..4 in order: the rerun went on from 2 and did not republish it as 3.
    assert outcome.restored == [0, 1, 2, 3, 4]
    rerun_log = run.trainer_logs[1].read_text()
    assert "Continuing the model in s3://bucket/rl-faults/model/ from its checkpoint 2_Step-" in rerun_log
    assert "--s3_prefix" not in rerun_log.split("Continuing the model")[0].splitlines()[-1]
    pointer = client.get_object(Bucket="bucket", Key="rl-faults/model/.coach_checkpoint")["Body"].read().decode()
    # 20 transitions per iteration, counted on from 2_Step-40 (the SIGTERM at the end publishes 5 at the same step).
    assert pointer in ("4_Step-80.ckpt", "5_Step-80.ckpt")


@contextlib.contextmanager
def run_behind_proxy(tmp_path, s3_server, redis_server, iterations: int = 3):
    """A FaultRun whose trainer reaches the S3 server through a fault proxy: yields (run, proxy)."""
    endpoint, client = s3_server
    with S3FaultProxy(endpoint) as proxy:
        run = FaultRun(tmp_path, client, endpoint, redis_server.port, iterations=iterations,
                       trainer_endpoint=proxy.url).start()
        try:
            yield run, proxy
        finally:
            run.close()


def test_sigterm_inside_a_publish_finishes_it_and_the_rerun_continues(tmp_path, s3_server, redis_server):
    with run_behind_proxy(tmp_path, s3_server, redis_server) as (run, proxy):
        run.wait_for_pointer(1)
        hold = proxy.hold_next("PUT", ".ckpt.data-")  # the next checkpoint's weights, mid-upload
        assert hold.arrived.wait(300), run.tail()
        assert run.signal_trainer(signal.SIGTERM, then=hold.release) == 0, run.tail()
        held = hold.path.rsplit("/", 1)[1].split(".ckpt")[0] + ".ckpt"
        pointer_after_stop = run.pointer()
        run.rerun_trainer()
        outcome = run.finish()
    assert outcome.nothing_lost, (outcome, run.tail())
    # The held checkpoint was finished and pointed to before the trainer exited; nothing was torn.
    assert pointer_after_stop is not None and int(pointer_after_stop.split("_")[0]) >= int(held.split("_")[0])
    assert outcome.restored == list(range(outcome.restored[0], outcome.restored[0] + len(outcome.restored)))
    assert "Continuing the model" in run.trainer_logs[1].read_text()


def test_an_s3_outage_mid_run_is_ridden_out(tmp_path, s3_server, redis_server):
    with run_behind_proxy(tmp_path, s3_server, redis_server) as (run, proxy):
        run.wait_for_pointer(1)
        proxy.mode = "drop"
        time.sleep(20)
        proxy.mode = "pass"
        outcome = run.finish()
        assert proxy.counts["dropped"] > 0
    assert outcome.nothing_lost, (outcome, run.tail())
    assert outcome.restored == [0, 1, 2, 3]
    log = run.trainer_logs[0].read_text()
    assert "The store is not answering" in log and "The store is back after" in log
    assert "Traceback" not in log


def test_500_at_start_up_is_retried_within_connect_timeout(tmp_path, s3_server, redis_server):
    start_up_through_errors(tmp_path, *s3_server, redis_server, (500, "InternalError"))


def test_503_throttling_at_start_up_is_retried_within_connect_timeout(tmp_path, s3, moto_endpoint, redis_server):
    """The proxy answers, not the server behind it: moto alone suffices here."""
    start_up_through_errors(tmp_path, moto_endpoint, s3, redis_server, (503, "SlowDown"))


def start_up_through_errors(tmp_path, endpoint: str, client, redis_server, status: tuple[int, str]) -> None:
    """A trainer whose every S3 request is answered ``status`` waits; once they pass it trains and finishes."""
    with S3FaultProxy(endpoint) as proxy:
        proxy.mode, proxy.status = "status", status
        run = FaultRun(tmp_path, client, endpoint, redis_server.port, iterations=1, trainer_endpoint=proxy.url,
                       extra_args=("--connect_timeout", "60"))
        run.start()
        try:
            deadline = time.monotonic() + 120
            while proxy.counts["failed"] < 3 and time.monotonic() < deadline:  # the trainer's import takes a while
                time.sleep(0.2)
            time.sleep(3)
            assert run.trainer.poll() is None, run.tail()  # still waiting, not dead
            proxy.mode = "pass"
            outcome = run.finish()
        finally:
            run.close()
        assert proxy.counts["failed"] > 0
    assert outcome.nothing_lost, (outcome, run.tail())
    assert "The store is not answering" in run.trainer_logs[0].read_text()


def test_new_model_on_a_used_prefix_numbers_after_the_old_checkpoints(tmp_path, s3, moto_endpoint, redis_server):
    import json

    upload_default_metadata(s3)
    old = {f"rl-new/model/{n}_Step-{n * 10}.ckpt.{suffix}": f"old {n}".encode()
           for n in (4, 5) for suffix in ("index", "data-00000-of-00001", "meta")}
    for key, body in old.items():
        s3.put_object(Bucket="bucket", Key=key, Body=body)
    s3.put_object(Bucket="bucket", Key="rl-new/model/.coach_checkpoint", Body=b"5_Step-50.ckpt")
    log_path = tmp_path / "trainer.log"
    trainer = start_trainer(trainer_args(moto_endpoint, "rl-new", redis_server.port, tmp_path / "work", "--new-model"),
                            log_path, SM_TRAINING_ENV=json.dumps(TINY_HYPERPARAMETERS))
    try:
        wait_for_key(s3, "rl-new/model/.ready", trainer, 180, log_path)
        pointer = s3.get_object(Bucket="bucket", Key="rl-new/model/.coach_checkpoint")["Body"].read().decode()
    finally:
        trainer.send_signal(signal.SIGTERM)
        trainer.wait(timeout=60)
    assert pointer == "6_Step-0.ckpt", log_path.read_text()  # fresh weights, numbered after 5
    for key, body in old.items():  # the earlier model's files are untouched
        assert s3.get_object(Bucket="bucket", Key=key)["Body"].read() == body
    assert "--new-model: starting from fresh weights" in log_path.read_text()
