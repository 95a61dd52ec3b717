"""Issue 15: the trainer's store steps outside the training loop ride out a store that is briefly away.

The pretrained download at start-up (within --connect_timeout) and the last save-and-publish after a
stop signal (within --store_outage_timeout) go through ``markov.store.outage.ride_out`` like every
other step. A real LocalStore whose first calls answer "unavailable", the way a 503 from S3 arrives
after botocore's own retries, stands in for the store.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from markov.store.backend import StoreUnavailableError
from markov.store.keys import ModelKeys
from markov.store.local import LocalStore
from markov.store.publisher import CheckpointPublisher
from markov.training import loop
from markov.training.stop import GracefulStop

SUFFIXES = (".index", ".data-00000-of-00001", ".meta")


class AwayAtFirst(LocalStore):
    """A LocalStore whose first ``failures`` reads or writes raise StoreUnavailableError."""

    def __init__(self, root: Path, failures: int):
        super().__init__(root)
        self.failures = failures
        self.refused = 0

    def _maybe_away(self) -> None:
        if self.refused < self.failures:
            self.refused += 1
            raise StoreUnavailableError("S3 answered 503 SlowDown after 5 tries")

    def list(self, prefix: str) -> list[str]:
        self._maybe_away()
        return super().list(prefix)

    def put_file(self, key: str, path) -> None:
        self._maybe_away()
        super().put_file(key, path)


def write_checkpoint(folder: Path, number: int, step: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{number}_Step-{step}.ckpt"
    for suffix in SUFFIXES:
        (folder / (name + suffix)).write_bytes(f"{name}{suffix}".encode())
    (folder / ".coach_checkpoint").write_text(name)
    return name


def test_the_pretrained_download_waits_for_a_store_that_is_briefly_away(tmp_path, monkeypatch):
    store = AwayAtFirst(tmp_path / "bucket", failures=0)
    store.ensure_bucket()
    keys = ModelKeys("old-model")
    name = write_checkpoint(tmp_path / "old", 3, 150)
    for suffix in SUFFIXES:
        store.put_file(f"{keys.model_dir}{name}{suffix}", tmp_path / "old" / f"{name}{suffix}")
    store.put_bytes(keys.coach_checkpoint, name.encode())
    store.failures, store.refused = 2, 0
    monkeypatch.setattr(loop, "open_store", lambda config, bucket=None: store)
    config = SimpleNamespace(connect_timeout=30.0, pretrained_s3_bucket="bucket", pretrained_s3_prefix="old-model",
                             pretrained_checkpoint="last", pretrained_checkpoint_dir=tmp_path / "pretrained")

    local = loop._download_pretrained(config, GracefulStop(), metadata_version=5.0)

    assert store.refused == 2
    assert local == tmp_path / "pretrained" / "agent"
    assert (local / f"{name}.index").read_bytes() == f"{name}.index".encode()
    assert (local / ".coach_checkpoint").read_text().strip() == name


def test_the_pretrained_download_gives_up_by_name_after_connect_timeout(tmp_path, monkeypatch):
    store = AwayAtFirst(tmp_path / "bucket", failures=10**6)
    store.ensure_bucket()
    monkeypatch.setattr(loop, "open_store", lambda config, bucket=None: store)
    config = SimpleNamespace(connect_timeout=0.0, pretrained_s3_bucket="bucket", pretrained_s3_prefix="old-model",
                             pretrained_checkpoint="best", pretrained_checkpoint_dir=tmp_path / "pretrained")

    with pytest.raises(loop.StorageError) as error:
        loop._download_pretrained(config, GracefulStop(), metadata_version=5.0)

    message = str(error.value)
    assert "downloading the pretrained model" in message and "old-model" in message
    assert "--connect_timeout" in message


def test_the_last_publish_after_a_stop_waits_for_the_store(tmp_path):
    store = AwayAtFirst(tmp_path / "bucket", failures=0)
    store.ensure_bucket()
    keys = ModelKeys("rl-stop")
    folder = tmp_path / "work" / "checkpoint" / "agent"
    publisher = CheckpointPublisher(store, keys, folder)
    graph_manager = SimpleNamespace(save_checkpoint=lambda: write_checkpoint(folder, 4, 80))
    config = SimpleNamespace(store_outage_timeout=30.0, checkpoint_dir=folder.parent, work_dir=tmp_path / "work")
    store.failures = 2  # the first two uploads answer 503

    loop._final_checkpoint(graph_manager, publisher, config)

    assert store.refused == 2
    assert store.get_bytes(keys.coach_checkpoint).decode().strip() == "4_Step-80.ckpt"
    assert sorted(k for k in store.list(keys.model_dir) if ".ckpt." in k) == sorted(
        f"{keys.model_dir}4_Step-80.ckpt{suffix}" for suffix in SUFFIXES)
    assert (tmp_path / "work" / loop.ENDED_MARKER).read_text() == "4_Step-80.ckpt"
