from __future__ import annotations

import pytest

from markov.errors import StorageError
from markov.store.local import LocalStore


def test_keys_map_to_the_same_relative_paths(tmp_path):
    store = LocalStore(tmp_path / "root")
    assert store.ensure_bucket() is True
    store.put_bytes("rl-deepracer-sagemaker/model/.coach_checkpoint", b"0_Step-0.ckpt")
    assert (tmp_path / "root" / "rl-deepracer-sagemaker" / "model" / ".coach_checkpoint").read_bytes() == b"0_Step-0.ckpt"


def test_partial_files_are_not_listed(tmp_path):
    store = LocalStore(tmp_path)
    store.put_bytes("p/model/a", b"1")
    (tmp_path / "p" / "model" / ".a.x1y2.partial").write_bytes(b"half")
    assert store.list("p/") == ["p/model/a"]


@pytest.mark.parametrize("key", ["../outside", "p/../../outside"])
def test_keys_cannot_escape_the_root(tmp_path, key):
    store = LocalStore(tmp_path / "root")
    with pytest.raises(Exception):
        store.put_bytes(key, b"x")
    assert not (tmp_path / "outside").exists()


def test_missing_root_is_a_one_line_error(tmp_path):
    with pytest.raises(StorageError, match=str(tmp_path / "nope")):
        LocalStore(tmp_path / "nope").check()
