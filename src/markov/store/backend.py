"""The object-store interface the checkpoint protocol is written against.

Two backends implement it: S3/MinIO (``markov.store.s3``) and a directory on local disk with the
same key layout (``markov.store.local``), so a run trained without a bucket can be synced to one
later. Keys are always ``/``-separated strings built by ``markov.store.keys``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from markov.errors import StorageError


class ObjectNotFoundError(StorageError):
    """The key does not exist. Often a normal answer (no best checkpoint yet), so callers catch it."""


class BucketNotFoundError(StorageError):
    """The bucket itself is missing: never a normal answer, unlike a missing key."""


class StoreUnavailableError(StorageError):
    """The store answered 5xx or throttled after every try: worth waiting for (docs/reliability.md)."""


class DiskFullError(StoreUnavailableError):
    """No space left on the device a write went to: worth waiting for, once space is freed (docs/reliability.md)."""


class EndpointUnreachableError(StoreUnavailableError):
    """The endpoint did not answer (MinIO not started yet, wrong URL, a dropped network): worth waiting for."""


@runtime_checkable
class ObjectStore(Protocol):
    """A flat key -> bytes store. Every method raises ``StorageError`` with a one-line message."""

    @property
    def location(self) -> str:
        """Where the store is, for messages: ``s3://bucket at <endpoint>`` or a directory."""

    def uri(self, key: str) -> str:
        """A printable address of one key (``s3://bucket/key`` or a local path)."""

    def check(self) -> None:
        """Fail early, with the one-line reason, if the bucket is missing or unreachable."""

    def ensure_bucket(self) -> bool:
        """Create the bucket (or root directory) if missing; True if it was created."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write an object; readers see either the old or the whole new content."""

    def put_file(self, key: str, path: str | Path) -> None:
        """Upload a local file as an object."""

    def get_bytes(self, key: str) -> bytes:
        """Read an object. Raises ``ObjectNotFoundError`` if it does not exist."""

    def download_file(self, key: str, path: str | Path) -> None:
        """Write an object to a local file (atomically). Raises ``ObjectNotFoundError``."""

    def exists(self, key: str) -> bool:
        """Whether the object exists."""

    def list(self, prefix: str) -> list[str]:
        """All keys that start with ``prefix`` (a plain string prefix, as S3 LIST), sorted."""

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing key is not an error (as on S3)."""


def get_bytes_or_none(store: ObjectStore, key: str) -> bytes | None:
    """The object's bytes, or None if it does not exist."""
    try:
        return store.get_bytes(key)
    except ObjectNotFoundError:
        return None
