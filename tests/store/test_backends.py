"""Behaviour shared by every ObjectStore backend (S3 through moto, and the local directory)."""
from __future__ import annotations

import pytest

from markov.store.backend import ObjectNotFoundError, ObjectStore, get_bytes_or_none


def test_empty_markers_are_objects_like_any_other(store):
    """``.lock``, ``.ready`` and ``.finished`` are empty objects (docs/protocol.md §4.1): listed, read back as b''."""
    for marker in (".lock", ".ready", ".finished"):
        store.put_bytes(f"p/model/{marker}", b"")
    assert store.list("p/model/") == ["p/model/.finished", "p/model/.lock", "p/model/.ready"]
    assert store.get_bytes("p/model/.ready") == b""
    assert store.exists("p/model/.finished")


def test_put_get_exists_delete(store, tmp_path):
    store.put_bytes("p/model/.lock", b"")
    store.put_bytes("p/ip/done", b"done")
    assert store.get_bytes("p/ip/done") == b"done"
    assert store.exists("p/model/.lock")
    store.delete("p/model/.lock")
    store.delete("p/model/.lock")  # deleting a missing key is fine, as on S3
    assert not store.exists("p/model/.lock")
    assert get_bytes_or_none(store, "p/model/.lock") is None
    with pytest.raises(ObjectNotFoundError, match="p/model/.lock"):
        store.get_bytes("p/model/.lock")


def test_put_file_and_download_file(store, tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    store.put_file("p/model/0_Step-0.ckpt.data-00000-of-00001", source)
    target = tmp_path / "out" / "deep" / "x.bin"
    store.download_file("p/model/0_Step-0.ckpt.data-00000-of-00001", target)
    assert target.read_bytes() == source.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["x.bin"]  # no temporary file left behind
    with pytest.raises(ObjectNotFoundError):
        store.download_file("p/model/missing", tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_list_is_a_plain_string_prefix_and_sorted(store):
    for key in ("p/model/b", "p/model/a", "p/model2/c", "p/ip/done", "q/model/a"):
        store.put_bytes(key, b"x")
    assert store.list("p/model/") == ["p/model/a", "p/model/b"]
    assert store.list("p/model") == ["p/model/a", "p/model/b", "p/model2/c"]
    assert store.list("p/mo") == ["p/model/a", "p/model/b", "p/model2/c"]
    assert store.list("nothing/") == []


def test_overwrite_replaces_content(store):
    store.put_bytes("p/model/.coach_checkpoint", b"0_Step-0.ckpt")
    store.put_bytes("p/model/.coach_checkpoint", b"1_Step-20.ckpt")
    assert store.get_bytes("p/model/.coach_checkpoint") == b"1_Step-20.ckpt"


def test_ensure_bucket_is_idempotent(store):
    assert store.ensure_bucket() is False
    store.check()
