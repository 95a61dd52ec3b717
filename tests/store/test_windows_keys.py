"""Every key-building path under Windows path semantics: no key may hold a backslash (docs/protocol.md §4.5).

``os.path`` is replaced by ``ntpath`` for the duration of each test, which is what the 2020
trainer's ``os.path.normpath`` calls met on Windows.
"""
from __future__ import annotations

import ntpath
import os

import pytest

from markov.store import keys, lifecycle
from markov.store.download import download_pretrained, get_coach_checkpoint_number, load_from_store
from markov.store.publisher import CheckpointPublisher
from markov.store.records import write_checkpoint_records
from markov.store.keys import ModelKeys

from markov.cli.main import main
from s3_boto_data_store import S3BotoDataStore, S3BotoDataStoreParameters
from s3_client import SageS3Client

from store_helpers import MemoryStore, RecordingStore, save_checkpoint


@pytest.fixture
def windows_paths(monkeypatch):
    monkeypatch.setattr(os, "path", ntpath)
    assert os.path.join("a", "b") == "a\\b"


@pytest.fixture
def warm_s3_store(s3_store):
    """The moto-backed store with botocore's data files already loaded.

    botocore reads its service data lazily from its install folder, through os.path; that must
    happen before ``windows_paths`` (on a real Windows host os.path and the file system agree).
    Fixtures listed before ``windows_paths`` are made first.
    """
    s3_store.list("")
    return s3_store


@pytest.fixture(params=["memory", "s3"])
def backend(request):
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("warm_s3_store")


@pytest.mark.parametrize("prefix", ["rl-deepracer-sagemaker", "runs/2026/model-a", "a//b/./c/", ""])
def test_no_key_holds_a_backslash(backend, tmp_path, prefix, windows_paths):
    store = RecordingStore(backend)
    model = ModelKeys(prefix)
    pre = ModelKeys(prefix + "-pretrained" if prefix else "pretrained")
    built = [model.model_dir, model.model_metadata, model.preset, model.hyperparameters, model.ip_config,
             model.ip_done, model.lock, model.ready, model.finished, model.coach_checkpoint,
             model.deepracer_checkpoints, model.tf_checkpoint_state, model.frozen_model(3), model.sample(1),
             model.model_file("3_Step-1.ckpt.index"),
             keys.split_s3_uri("s3://bucket/custom_files/model_metadata.json")[1],
             keys.split_s3_uri("custom_files/model_metadata.json", "bucket")[1]]

    metadata = tmp_path / "model_metadata.json"
    metadata.write_text("{}")
    lifecycle.clear_stale_sync_files(store, model)
    lifecycle.publish_model_metadata(store, model, metadata)
    lifecycle.publish_hyperparameters(store, model, "{}")
    lifecycle.publish_ip_config(store, model, "10.0.0.2")
    folder = tmp_path / "checkpoint" / "agent"
    publisher = CheckpointPublisher(store, model, folder, frozen_model=b"pb", frozen_dir=tmp_path / "frozen",
                                    model_dir=tmp_path / "sm")
    for number in range(6):
        save_checkpoint(folder, number, number * 10)
        publisher.publish()
    write_checkpoint_records(store, model, best="1_Step-10.ckpt", last="5_Step-50.ckpt")
    lifecycle.signal_ready(store, model, folder)
    assert get_coach_checkpoint_number(store, model) == 5
    assert load_from_store(store, model, tmp_path / "rollout") == "5_Step-50.ckpt"
    lifecycle.signal_finished(store, model)

    for suffix in (".index", ".meta"):
        store.put_bytes(pre.model_file("7_Step-70.ckpt" + suffix), b"x")
    store.put_bytes(pre.tf_checkpoint_state, b'model_checkpoint_path: "C:\\\\runs\\\\7_Step-70.ckpt"')
    assert download_pretrained(store, pre, tmp_path / "pretrained", metadata_version=1.0).name == "7_Step-70.ckpt"

    written = [key for _op, key in store.writes]
    listed = backend.list("")
    assert written and listed
    assert [key for key in built + written + listed if "\\" in key] == []


@pytest.fixture
def cli_imported():
    """Import the CLI's subcommand modules with the real os.path (they resolve their data folders)."""
    from markov.cli.main import build_parser
    build_parser()


def test_adapters_and_init_build_posix_keys(warm_s3_store, cli_imported, tmp_path, windows_paths):
    s3_store = warm_s3_store

    assert main(["init", "--s3-bucket", "bucket", "--s3-prefix", "win/model"]) == 0
    client = SageS3Client("bucket", "win/model", store=s3_store)
    metadata = tmp_path / "m.json"
    metadata.write_text("{}")
    client.upload_model_metadata(metadata)
    client.write_ip_config("10.0.0.3")
    params = S3BotoDataStoreParameters(bucket="bucket", s3_prefix="win/model", checkpoint_dir=tmp_path / "agent")
    data_store = S3BotoDataStore(params, store=s3_store, frozen_model=b"pb")
    save_checkpoint(tmp_path / "agent", 0, 0)
    data_store.save_to_store()
    data_store.signal_ready()
    data_store.flush_finished()
    listed = s3_store.list("")
    assert "win/model/model/.coach_checkpoint" in listed and "custom_files/reward_function.py" in listed
    assert [key for key in listed if "\\" in key] == []

