"""Start-up and shut-down objects (docs/protocol.md §4.2) and the rollout's waits for them."""
from __future__ import annotations

import json
import logging

import pytest

from markov.errors import StorageError
from markov.hyperparameters import HyperParameters
from markov.store import lifecycle
from markov.store.download import load_from_store
from markov.store.publisher import CheckpointPublisher
from markov.store.keys import ModelKeys

from store_helpers import RecordingStore, save_checkpoint

KEYS = ModelKeys("rl-deepracer-sagemaker")


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds

    def __call__(self):
        return self.now


def test_start_up_sequence_lets_a_fresh_model_start(store, tmp_path):
    """No pretrained model: the rollout side still finds ip, a checkpoint 0 and .ready."""
    metadata = tmp_path / "model_metadata.json"
    metadata.write_text('{"action_space": [{"steering_angle": 0, "speed": 1}]}')
    lifecycle.clear_stale_sync_files(store, KEYS)
    lifecycle.publish_model_metadata(store, KEYS, metadata)
    lifecycle.publish_hyperparameters(store, KEYS, HyperParameters().echo_json("clipped_ppo"))
    lifecycle.publish_ip_config(store, KEYS, "192.168.1.20")
    folder = tmp_path / "checkpoint" / "agent"
    save_checkpoint(folder, 0, 0)
    CheckpointPublisher(store, KEYS, folder).publish()
    lifecycle.signal_ready(store, KEYS, folder)

    clock = Clock()
    assert lifecycle.wait_for_ip(store, KEYS, sleep=clock.sleep, clock=clock) == "192.168.1.20"
    assert json.loads(store.get_bytes(KEYS.hyperparameters))["num_episodes_between_training"] == 20
    assert load_from_store(store, KEYS, tmp_path / "rollout") == "0_Step-0.ckpt"
    lifecycle.wait_for_trainer_ready(store, KEYS, sleep=clock.sleep, clock=clock)
    assert clock.now == 0.0  # nothing had to be waited for
    assert store.get_bytes(KEYS.ip_done) == b"done"
    assert store.get_bytes(KEYS.model_metadata) == metadata.read_bytes()
    assert (folder / ".ready").exists()
    assert not store.exists(KEYS.lock)

    lifecycle.signal_finished(store, KEYS)
    load_from_store(store, KEYS, tmp_path / "rollout")
    assert (tmp_path / "rollout" / ".finished").exists()


def test_ip_done_is_written_after_ip_json(store):
    recording = RecordingStore(store)
    lifecycle.publish_ip_config(recording, KEYS, "10.0.0.1")
    assert recording.writes == [("put", KEYS.ip_config), ("put", KEYS.ip_done)]
    assert json.loads(store.get_bytes(KEYS.ip_config)) == {"IP": "10.0.0.1"}


def test_clear_stale_sync_files(store, caplog):
    for key in (KEYS.ip_done, KEYS.ready, KEYS.finished, KEYS.lock, KEYS.coach_checkpoint, KEYS.ip_config):
        store.put_bytes(key, b"old")
    store.put_bytes(KEYS.model_file("37_Step-9.ckpt.index"), b"old")
    with caplog.at_level(logging.INFO):
        removed = lifecycle.clear_stale_sync_files(store, KEYS)
    assert set(removed) == {KEYS.ip_done, KEYS.ready, KEYS.finished, KEYS.lock, KEYS.coach_checkpoint}
    assert store.exists(KEYS.ip_config)
    assert "Removed sync files of an earlier run" in caplog.text
    assert "--s3_prefix" not in caplog.text  # the model there is continued, not warned about (issue 14)
    store.put_bytes(KEYS.coach_checkpoint, b"37_Step-9.ckpt")
    lifecycle.clear_stale_sync_files(store, KEYS, keep_pointer=True)
    assert store.exists(KEYS.coach_checkpoint)


def test_waits_time_out_naming_the_key(store):
    clock = Clock()
    with pytest.raises(StorageError, match="rl-deepracer-sagemaker/ip/done did not appear within 30 s"):
        lifecycle.wait_for_ip(store, KEYS, timeout_s=30, sleep=clock.sleep, clock=clock)
    assert 30 <= clock.now <= 31
    with pytest.raises(StorageError, match=r"model/\.ready"):
        lifecycle.wait_for_trainer_ready(store, KEYS, timeout_s=30, sleep=clock.sleep, clock=clock)


def test_bad_ip_json_is_reported(store):
    store.put_bytes(KEYS.ip_done, b"done")
    store.put_bytes(KEYS.ip_config, b"[]")
    with pytest.raises(StorageError, match="ip/ip.json"):
        lifecycle.wait_for_ip(store, KEYS)


def test_download_model_metadata_names_the_key(store, tmp_path):
    store.put_bytes("custom_files/model_metadata.json", b"{}")
    path = lifecycle.download_model_metadata(store, "custom_files/model_metadata.json", tmp_path / "a" / "m.json")
    assert path.read_bytes() == b"{}"
    with pytest.raises(StorageError, match="custom_files/nope.json.*--model_metadata_s3_key"):
        lifecycle.download_model_metadata(store, "custom_files/nope.json", tmp_path / "n.json")
