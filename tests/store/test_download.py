"""The rollout's load of the published checkpoint (docs/protocol.md §4.2), on both backends."""
from __future__ import annotations

import pytest

from markov.checkpoint_names import checkpoint_name
from markov.errors import StorageError
from markov.store.download import get_coach_checkpoint_number, load_from_store, wait_for_checkpoint
from markov.store.keys import ModelKeys
from markov.store.publisher import CheckpointPublisher

from store_helpers import save_checkpoint

PREFIX = "rl-deepracer-sagemaker"
KEYS = ModelKeys(PREFIX)


def test_checkpoint_number_is_minus_one_while_locked_or_missing(store, tmp_path):
    assert get_coach_checkpoint_number(store, KEYS) == -1
    store.put_bytes(KEYS.coach_checkpoint, b"7_Step-700.ckpt")
    assert get_coach_checkpoint_number(store, KEYS) == 7
    store.put_bytes(KEYS.lock, b"")
    assert get_coach_checkpoint_number(store, KEYS) == -1


def test_load_from_store_downloads_the_pointed_checkpoint(store, tmp_path):
    folder = tmp_path / "agent"
    publisher = CheckpointPublisher(store, KEYS, folder, frozen_model=b"pb")
    for number in range(6):
        save_checkpoint(folder, number, number)
        publisher.publish()
    store.put_bytes(KEYS.finished, b"")
    local = tmp_path / "rollout"
    for number in range(6):  # an old rollout dir would have more; only 4 are kept
        save_checkpoint(local, 10 + number, 0)
    assert load_from_store(store, KEYS, local, expected_number=6) is None
    name = load_from_store(store, KEYS, local, expected_number=5)
    assert name == checkpoint_name(5, 5)
    assert (local / ".coach_checkpoint").read_text() == name
    assert (local / ".finished").exists()
    assert not (local / "model_5.pb").exists()
    numbers = {p.name.split("_")[0] for p in local.iterdir() if ".ckpt." in p.name}
    assert numbers == {"13", "14", "15", "5"}
    store.put_bytes(KEYS.lock, b"")
    assert load_from_store(store, KEYS, local) is None
    assert load_from_store(store, KEYS, local, ignore_lock=True) == name


def test_load_from_store_falls_back_to_the_highest_checkpoint(store, tmp_path):
    for name in ("3_Step-30.ckpt", "12_Step-90.ckpt"):
        for suffix in (".index", ".meta"):
            store.put_bytes(KEYS.model_file(name + suffix), b"x")
    store.put_bytes(KEYS.coach_checkpoint, b"20_Step-100.ckpt")
    local = tmp_path / "rollout"
    assert load_from_store(store, KEYS, local) == "12_Step-90.ckpt"
    assert (local / ".coach_checkpoint").read_text() == "12_Step-90.ckpt"
    assert sorted(p.name for p in local.glob("12_*")) == ["12_Step-90.ckpt.index", "12_Step-90.ckpt.meta"]


def test_load_from_store_without_any_checkpoint_is_an_error(store, tmp_path):
    store.put_bytes(KEYS.coach_checkpoint, b"0_Step-0.ckpt")
    with pytest.raises(StorageError, match="no checkpoint files under"):
        load_from_store(store, KEYS, tmp_path)


def test_wait_for_checkpoint_times_out_with_the_key(store, tmp_path):
    now = [0.0]
    with pytest.raises(StorageError, match=f"{PREFIX}/model/.coach_checkpoint after 5 s"):
        wait_for_checkpoint(store, KEYS, tmp_path, timeout_s=5, poll_s=1,
                            sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])


def test_wait_for_checkpoint_returns_once_published(store, tmp_path):
    folder = tmp_path / "agent"
    name = save_checkpoint(folder, 0, 0)
    publisher = CheckpointPublisher(store, KEYS, folder)
    polls = []

    def sleep(_s):
        polls.append(1)
        if len(polls) == 2:
            publisher.publish()

    assert wait_for_checkpoint(store, KEYS, tmp_path / "rollout", sleep=sleep) == name
    assert len(polls) == 2
