"""Across processes over HTTP: a trainer process publishes to a moto server, this process reads as a rollout."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import boto3
import pytest

from markov.store.download import get_coach_checkpoint_number, load_from_store
from markov.store.keys import ModelKeys
from markov.store.lifecycle import wait_for_ip, wait_for_trainer_ready
from markov.store.s3 import S3Store

pytestmark = pytest.mark.slow

TRAINER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from markov.store import lifecycle
    from markov.store.publisher import CheckpointPublisher
    from markov.store.keys import ModelKeys
    from markov.store.s3 import S3Store

    folder = Path(sys.argv[1])
    store = S3Store("bucket")  # endpoint from S3_ENDPOINT_URL, as the trainer gets it
    store.ensure_bucket()
    keys = ModelKeys("rl-deepracer-sagemaker")
    lifecycle.clear_stale_sync_files(store, keys)
    lifecycle.publish_hyperparameters(store, keys, "{}")
    lifecycle.publish_ip_config(store, keys, "172.17.0.1")
    publisher = CheckpointPublisher(store, keys, folder, frozen_model=b"frozen")
    for number in range(6):
        name = f"{number}_Step-{number * 100}.ckpt"
        for suffix in (".index", ".data-00000-of-00001", ".meta"):
            (folder / (name + suffix)).write_bytes(name.encode())
        (folder / ".coach_checkpoint").write_text(name)
        publisher.publish()
        if number == 0:
            lifecycle.signal_ready(store, keys, folder)
    lifecycle.signal_finished(store, keys)
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def moto_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"moto server did not start: {(tmp_path / 'moto.log').read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_trainer_process_publishes_and_this_process_loads(moto_server, tmp_path, monkeypatch):
    env = dict(os.environ, S3_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="minio", AWS_SECRET_ACCESS_KEY="minio123",
               AWS_DEFAULT_REGION="us-east-1")
    folder = tmp_path / "trainer" / "agent"
    folder.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", TRAINER, str(folder)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, env[name])
    store = S3Store("bucket", endpoint_url=moto_server)
    keys = ModelKeys("rl-deepracer-sagemaker")
    assert wait_for_ip(store, keys, timeout_s=0) == "172.17.0.1"
    wait_for_trainer_ready(store, keys, timeout_s=0)
    assert get_coach_checkpoint_number(store, keys) == 5
    local = tmp_path / "rollout"
    assert load_from_store(store, keys, local, expected_number=5) == "5_Step-500.ckpt"
    assert (local / "5_Step-500.ckpt.index").read_bytes() == b"5_Step-500.ckpt"
    assert (local / ".finished").exists()
    model = sorted(k.rsplit("/", 1)[1] for k in store.list(keys.model_dir))
    assert [k for k in model if k.endswith(".index")] == [f"{n}_Step-{n * 100}.ckpt.index" for n in (2, 3, 4, 5)]
    assert [k for k in model if k.endswith(".pb")] == [f"model_{n}.pb" for n in (2, 3, 4, 5)]
    # The uploads carried the bucket-owner-full-control ACL, and the server accepted them.
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    grants = client.get_object_acl(Bucket="bucket", Key="rl-deepracer-sagemaker/model/.coach_checkpoint")["Grants"]
    assert any(grant["Permission"] == "FULL_CONTROL" for grant in grants)
