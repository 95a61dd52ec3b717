"""Pretrained models (docs/protocol.md §4.4): best/last selection, the v<2 branch, and read-only access."""
from __future__ import annotations

import pytest

from markov.errors import StorageError
from markov.store.download import download_pretrained
from markov.store.publisher import CheckpointPublisher
from markov.store.records import write_checkpoint_records
from markov.store.keys import ModelKeys

from store_helpers import save_checkpoint

PRE = ModelKeys("old-model")


@pytest.fixture
def old_model(store, tmp_path):
    """An earlier run with checkpoints 0-3, best 1 and last 3."""
    folder = tmp_path / "old" / "agent"
    publisher = CheckpointPublisher(store, PRE, folder)
    names = []
    for number in range(4):
        names.append(save_checkpoint(folder, number, number * 50))
        publisher.publish()
    write_checkpoint_records(store, PRE, best=names[1], last=names[3])
    return names


def snapshot(store):
    return {key: store.get_bytes(key) for key in store.list("old-model/")}


@pytest.mark.parametrize("choice, index", [("best", 1), ("BEST", 1), ("last", 3), ("anything", 3)])
def test_best_or_last_from_deepracer_checkpoints(store, old_model, tmp_path, choice, index):
    before = snapshot(store)
    local = tmp_path / "pretrained" / "agent"
    pretrained = download_pretrained(store, PRE, local, checkpoint=choice)
    assert pretrained.name == old_model[index]
    assert pretrained.next_number == index + 1
    assert (local / ".coach_checkpoint").read_text() == old_model[index]
    assert sorted(p.name for p in local.iterdir()) == sorted(
        [".coach_checkpoint"] + [old_model[index] + s for s in (".data-00000-of-00001", ".index", ".meta")])
    assert snapshot(store) == before  # the earlier model is only read


def test_without_records_the_pointer_is_used(store, old_model, tmp_path):
    store.delete(PRE.deepracer_checkpoints)
    assert download_pretrained(store, PRE, tmp_path / "p").name == old_model[3]


def test_v1_model_uses_the_tf_state_file(store, tmp_path):
    """A 2020 trainer wrote only TF's `checkpoint` file, sometimes with Windows paths (§4.5)."""
    for suffix in (".index", ".data-00000-of-00001", ".meta"):
        store.put_bytes(PRE.model_file("2_Step-10.ckpt" + suffix), b"x")
        store.put_bytes(PRE.model_file("3_Step-20.ckpt" + suffix), b"x")
    store.put_bytes(PRE.tf_checkpoint_state,
                    b'model_checkpoint_path: ".\\\\checkpoint\\\\2_Step-10.ckpt"\nall_model_checkpoint_paths: "x"\n')
    local = tmp_path / "p"
    local.mkdir()
    (local / "checkpoint").write_text("stale TF state")
    pretrained = download_pretrained(store, PRE, local, checkpoint="best", metadata_version=1.0)
    assert pretrained.name == "2_Step-10.ckpt"
    assert not (local / "checkpoint").exists()  # Coach refuses to restore next to it
    # A v2 model ignores the TF state file and takes the highest-numbered checkpoint.
    assert download_pretrained(store, PRE, tmp_path / "q", metadata_version=2.0).name == "3_Step-20.ckpt"


def test_empty_pretrained_prefix_is_an_error_naming_it(store, tmp_path):
    with pytest.raises(StorageError, match="pretrained model .*old-model/model/? is empty"):
        download_pretrained(store, PRE, tmp_path)
