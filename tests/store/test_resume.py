"""What a trainer finds in a used prefix (markov.store.resume): whole checkpoints, and the half ones a kill leaves."""
from __future__ import annotations

import pytest

from markov.errors import StorageError
from markov.store import resume
from markov.store.publisher import CheckpointPublisher
from markov.store.keys import ModelKeys

from store_helpers import checkpoint_keys, save_checkpoint

PREFIX = "rl-resume"
KEYS = ModelKeys(PREFIX)


@pytest.fixture
def model(store, tmp_path):
    """Checkpoints 0-5 published, the 4 newest kept (2-5), with frozen graphs: a run that was killed."""
    folder = tmp_path / "trainer"
    publisher = CheckpointPublisher(store, KEYS, folder, frozen_model=b"pb")
    for number in range(6):
        save_checkpoint(folder, number, number * 10)
        publisher.publish()
    return folder


def names(state):
    return [entry.name for entry in state.checkpoints]


def test_a_published_model_is_continued_from_its_pointer(store, model):
    state = resume.inspect_and_clean(store, KEYS)
    assert names(state) == [f"{n}_Step-{n * 10}.ckpt" for n in (2, 3, 4, 5)]
    assert state.newest.name == "5_Step-50.ckpt" and state.newest.step == 50
    assert state.pointer == "5_Step-50.ckpt" and state.removed == [] and state.highest_number == 5


def test_a_half_deleted_checkpoint_is_removed_with_its_frozen_graph(store, model):
    # A kill during retention: the data file of checkpoint 2 was deleted, its .index and .meta were not.
    store.delete(KEYS.model_file("2_Step-20.ckpt.data-00000-of-00001"))
    state = resume.inspect_and_clean(store, KEYS)
    assert names(state) == [f"{n}_Step-{n * 10}.ckpt" for n in (3, 4, 5)]
    assert not [key for key in store.list(KEYS.model_dir) if "/2_Step-" in key]
    assert not store.exists(KEYS.frozen_model(2))


def test_an_upload_interrupted_before_the_pointer_is_removed_even_if_whole(store, model, tmp_path):
    for key in checkpoint_keys(PREFIX, "6_Step-60.ckpt")[:2]:  # half of checkpoint 6
        store.put_bytes(key, b"half")
    for key in checkpoint_keys(PREFIX, "7_Step-70.ckpt"):  # all of 7, but the pointer still names 5
        store.put_bytes(key, b"whole")
    state = resume.inspect_and_clean(store, KEYS)
    assert state.newest.name == "5_Step-50.ckpt"
    assert state.highest_number == 7  # a new model would be numbered after the removed ones too
    assert not [key for key in store.list(KEYS.model_dir) if "/6_Step-" in key or "/7_Step-" in key]


def test_a_pointer_to_missing_files_falls_back_to_the_newest_whole_one(store, model):
    for key in checkpoint_keys(PREFIX, "5_Step-50.ckpt"):
        store.delete(key)
    state = resume.inspect_and_clean(store, KEYS)
    assert state.newest.name == "4_Step-40.ckpt"
    assert resume.point_to(store, KEYS, state.newest) is True
    assert store.get_bytes(KEYS.coach_checkpoint) == b"4_Step-40.ckpt"
    assert resume.point_to(store, KEYS, state.newest) is False  # already so: nothing written
    assert not store.exists(KEYS.lock)


def test_without_a_pointer_the_newest_whole_checkpoint_is_the_model(store, model):
    store.delete(KEYS.coach_checkpoint)
    assert resume.inspect_and_clean(store, KEYS).newest.name == "5_Step-50.ckpt"


def test_sharded_checkpoints_need_every_shard(store):
    for suffix in ("index", "data-00000-of-00002"):
        store.put_bytes(KEYS.model_file(f"3_Step-9.ckpt.{suffix}"), b"x")
    assert resume.inspect_and_clean(store, KEYS).newest is None
    for suffix in ("index", "data-00000-of-00002", "data-00001-of-00002"):
        store.put_bytes(KEYS.model_file(f"4_Step-9.ckpt.{suffix}"), b"x")
    assert resume.inspect_and_clean(store, KEYS).newest.name == "4_Step-9.ckpt"


def test_an_empty_prefix_holds_nothing(store):
    state = resume.inspect_and_clean(store, KEYS)
    assert state.newest is None and state.highest_number == -1 and state.removed == []


def test_download_gives_a_restore_folder_with_exactly_that_checkpoint(store, model, tmp_path):
    local = tmp_path / "restore"
    local.mkdir()
    (local / "9_Step-1.ckpt.index").write_bytes(b"stale")
    state = resume.inspect_and_clean(store, KEYS)
    resume.download_checkpoint(store, state.newest, local)
    assert sorted(p.name for p in local.iterdir()) == sorted(
        [".coach_checkpoint"] + [key.rsplit("/", 1)[1] for key in checkpoint_keys(PREFIX, "5_Step-50.ckpt")])
    assert (local / ".coach_checkpoint").read_text() == "5_Step-50.ckpt"


def test_a_continued_model_keeps_four_checkpoints_in_all(store, model, tmp_path):
    state = resume.inspect_and_clean(store, KEYS)
    folder = tmp_path / "rerun"
    publisher = CheckpointPublisher(store, KEYS, folder)
    for entry in state.checkpoints:
        publisher.adopt(entry.name, entry.keys)
    save_checkpoint(folder, 6, 60)
    publisher.publish()
    numbers = sorted({int(key.rsplit("/", 1)[1].split("_")[0]) for key in store.list(KEYS.model_dir) if ".ckpt." in key})
    assert numbers == [3, 4, 5, 6]


def test_the_publisher_never_writes_over_another_runs_checkpoint(store, model, tmp_path):
    folder = tmp_path / "other"
    save_checkpoint(folder, 4, 40)  # a fresh run numbered from 0 would reach this name
    with pytest.raises(StorageError) as info:
        CheckpointPublisher(store, KEYS, folder).publish()
    message = str(info.value)
    assert PREFIX in message and "4_Step-40.ckpt" in message and "refusing to overwrite" in message
    assert store.get_bytes(KEYS.model_file("4_Step-40.ckpt.index")) == b"4_Step-40.ckpt.index"  # untouched
    assert store.get_bytes(KEYS.coach_checkpoint) == b"5_Step-50.ckpt"
