"""The trainer's checkpoint publish (docs/protocol.md §4.3), on both backends."""
from __future__ import annotations

import logging

import pytest

from markov.errors import StorageError
from markov.store.download import load_from_store
from markov.store.keys import ModelKeys
from markov.store.publisher import CheckpointPublisher
from markov.store.records import write_checkpoint_records

from store_helpers import RecordingStore, checkpoint_keys, save_checkpoint

PREFIX = "rl-deepracer-sagemaker"
KEYS = ModelKeys(PREFIX)


def test_publish_uploads_files_pointer_and_frozen_graph_in_order(store, tmp_path, caplog):
    folder = tmp_path / "checkpoint" / "agent"
    name = save_checkpoint(folder, 0, 0)
    recording = RecordingStore(store)
    publisher = CheckpointPublisher(recording, KEYS, folder, frozen_model=lambda n: f"frozen {n}".encode())
    with caplog.at_level(logging.INFO):
        assert publisher.publish() == name

    assert recording.writes == [
        ("delete", KEYS.lock), ("put", KEYS.lock),
        *[("put", key) for key in checkpoint_keys(PREFIX, name)],
        ("put", KEYS.coach_checkpoint),
        ("put", KEYS.frozen_model(0)),
        ("delete", KEYS.lock),
    ]
    assert store.get_bytes(KEYS.coach_checkpoint) == b"0_Step-0.ckpt"  # no newline
    assert store.get_bytes(KEYS.frozen_model(0)) == b"frozen 0_Step-0.ckpt"
    assert not store.exists(KEYS.model_file("checkpoint"))  # TF's state file stays local
    assert not store.exists(KEYS.lock)
    assert "Uploaded 3 files for checkpoint 0" in caplog.text
    assert f"saved intermediate frozen graph: {PREFIX}/model/model_0.pb" in caplog.text
    assert "Best checkpoint number: -1, Last checkpoint number: -1" in caplog.text


def test_publish_for_2020_workers_puts_the_tf_state_file_after_the_pointer(store, tmp_path):
    folder = tmp_path / "agent"
    name = save_checkpoint(folder, 3, 120)
    recording = RecordingStore(store)
    CheckpointPublisher(recording, KEYS, folder, tf_state_file=True).publish()
    puts = [key for op, key in recording.writes if op == "put"]
    assert puts.index(KEYS.tf_checkpoint_state) == puts.index(KEYS.coach_checkpoint) + 1
    state = store.get_bytes(KEYS.tf_checkpoint_state).decode()
    # the 2020 rollout takes int(path.split('_Step')[0]) of the first quoted path (§4.5)
    assert state.splitlines()[0] == f'model_checkpoint_path: "{name}"'
    assert int(state.split('"')[1].split("_Step")[0]) == 3


def test_publish_keeps_four_and_never_the_best(store, tmp_path):
    folder = tmp_path / "agent"
    publisher = CheckpointPublisher(store, KEYS, folder, frozen_model=b"pb")
    names = []
    for number in range(7):
        names.append(save_checkpoint(folder, number, number * 100))
        if number == 2:  # rollout worker 0 has evaluated checkpoint 1 as the best so far
            write_checkpoint_records(store, KEYS, best=names[1], last=names[1], best_metric=80.0)
        publisher.publish()
    remaining = {key for key in store.list(KEYS.model_dir) if ".ckpt." in key}
    expected = set()
    for number in (1, 4, 5, 6):
        expected.update(checkpoint_keys(PREFIX, names[number]))
    assert remaining == expected
    assert sorted(k for k in store.list(KEYS.model_dir) if k.endswith(".pb")) == [
        KEYS.frozen_model(n) for n in (1, 4, 5, 6)]


def test_only_this_process_uploads_are_deleted(store, tmp_path):
    store.put_bytes(KEYS.model_file("90_Step-1.ckpt.index"), b"old run")
    folder = tmp_path / "agent"
    publisher = CheckpointPublisher(store, KEYS, folder)
    for number in range(6):
        save_checkpoint(folder, number, number)
        publisher.publish()
    assert store.exists(KEYS.model_file("90_Step-1.ckpt.index"))


def test_frozen_copies_follow_best_and_last(store, tmp_path):
    folder, frozen_dir, model_dir = tmp_path / "agent", tmp_path / "frozen", tmp_path / "sm_model"
    publisher = CheckpointPublisher(store, KEYS, folder, frozen_dir=frozen_dir, model_dir=model_dir)
    names = [save_checkpoint(folder, 0, 0)]
    publisher.publish(frozen_model=b"model 0")
    assert (model_dir / "agent" / "model.pb").read_bytes() == b"model 0"  # no best yet: the newest
    for number in (1, 2, 3):
        names.append(save_checkpoint(folder, number, number))
        if number == 3:
            write_checkpoint_records(store, KEYS, best=names[1], last=names[2])
        publisher.publish(frozen_model=f"model {number}".encode())
    assert (model_dir / "agent" / "model.pb").read_bytes() == b"model 1"
    # Older than last (2), other than best (1) and last: pruned locally.
    assert sorted(p.name for p in frozen_dir.iterdir()) == ["model_1.pb", "model_2.pb", "model_3.pb"]


def test_publish_refuses_a_checkpoint_without_files(store, tmp_path):
    folder = tmp_path / "agent"
    folder.mkdir()
    (folder / ".coach_checkpoint").write_text("3_Step-9.ckpt")
    with pytest.raises(StorageError, match="3_Step-9.ckpt has no .index"):
        CheckpointPublisher(store, KEYS, folder).publish()
    assert store.list(PREFIX) == []
    with pytest.raises(StorageError, match="save a checkpoint first"):
        CheckpointPublisher(store, KEYS, tmp_path / "empty").publish()


def test_failed_upload_leaves_the_previous_checkpoint_whole(s3_store, tmp_path):
    folder = tmp_path / "agent"
    publisher = CheckpointPublisher(s3_store, KEYS, folder, frozen_model=b"pb")
    first = save_checkpoint(folder, 0, 0)
    publisher.publish()
    second = save_checkpoint(folder, 1, 20)
    failing_key = KEYS.model_file(second + ".index")

    def refuse(params, **_):
        if params["url_path"].endswith(failing_key):
            from botocore.exceptions import EndpointConnectionError
            raise EndpointConnectionError(endpoint_url="http://s3")
    s3_store.client.meta.events.register("before-call.s3.PutObject", refuse)

    with pytest.raises(StorageError, match="cannot reach"):
        publisher.publish()
    assert s3_store.get_bytes(KEYS.coach_checkpoint) == first.encode()
    model_objects = s3_store.list(KEYS.model_dir)
    assert set(checkpoint_keys(PREFIX, first)) <= set(model_objects)
    assert not [key for key in model_objects if second in key]  # no half checkpoint 1 left
    assert not s3_store.exists(KEYS.lock)
    # A rollout worker loads the previous checkpoint, whole.
    local = tmp_path / "rollout"
    assert load_from_store(s3_store, KEYS, local) == first
    assert sorted(p.name for p in local.iterdir() if p.name.startswith(first)) == sorted(
        k.rsplit("/", 1)[1] for k in checkpoint_keys(PREFIX, first))


def test_a_publish_repeated_after_a_failure_past_its_pointer_does_not_upload_again(store, tmp_path):
    folder = tmp_path / "agent"
    name = save_checkpoint(folder, 0, 0)
    calls = []

    def frozen(checkpoint):
        calls.append(checkpoint)
        if len(calls) == 1:
            raise StorageError("the store went away after the pointer")
        return b"pb"

    recording = RecordingStore(store)
    publisher = CheckpointPublisher(recording, KEYS, folder, frozen_model=frozen)
    with pytest.raises(StorageError):
        publisher.publish()
    assert store.get_bytes(KEYS.coach_checkpoint) == name.encode()
    recording.writes.clear()
    assert publisher.publish() == name
    puts = [key for op, key in recording.writes if op == "put"]
    assert puts == [KEYS.lock, KEYS.frozen_model(0)]  # the checkpoint files and the pointer are not written again
