"""Object store in a local directory, with the bucket's key layout (for training without MinIO/S3).

The directory can later be synced to a bucket as is (``aws s3 sync DIR s3://bucket`` or
``mc mirror``): object ``model/.lock`` is file ``DIR/model/.lock``. Writes go to a temporary file
in the same folder and are moved into place with ``os.replace``, so a reader never sees half a
checkpoint pointer, just as with S3's atomic PUT.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.atomic import PARTIAL_SUFFIX, atomic_write
from markov.store.backend import ObjectNotFoundError


class LocalStore:
    """A directory that behaves as a bucket."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    @property
    def location(self) -> str:
        return str(self.root)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def _path(self, key: str) -> Path:
        normal = keylib.join(key)
        parts = normal.lstrip("/").split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise StorageError(f"key {key!r} cannot be stored under {self.root}")
        return self.root.joinpath(*parts)

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"the store directory {self.root} does not exist; run deepracer-trainer init or create it")

    def ensure_bucket(self) -> bool:
        if self.root.is_dir():
            return False
        try:
            self.root.mkdir(parents=True)
        except OSError as exc:
            raise StorageError(f"cannot create the store directory {self.root}: {exc.strerror}") from None
        return True

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda handle: handle.write(data))

    def put_file(self, key: str, path: str | Path) -> None:
        source = Path(path)
        try:
            with source.open("rb") as src:
                self._write(key, lambda handle: shutil.copyfileobj(src, handle))
        except FileNotFoundError:
            raise StorageError(f"cannot upload {source} to {self.uri(key)}: the file does not exist") from None

    def _write(self, key: str, fill) -> None:
        target = self._path(key)
        try:
            atomic_write(target, fill)
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from None

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(f"{path} does not exist in the local store") from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None

    def download_file(self, key: str, path: str | Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectNotFoundError(f"{source} does not exist in the local store")
        target = Path(path)
        try:
            with source.open("rb") as src:
                atomic_write(target, lambda handle: shutil.copyfileobj(src, handle))
        except OSError as exc:
            raise StorageError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        # Walk only the deepest folder the prefix names; the prefix may end inside a file name.
        folder_key, _, _ = prefix.rpartition("/")
        start = self._path(folder_key) if folder_key.strip("/") else self.root
        if not start.is_dir():
            return []
        found = []
        for dirpath, _dirnames, filenames in os.walk(start):
            relative = Path(dirpath).relative_to(self.root).parts
            for name in filenames:
                if name.endswith(PARTIAL_SUFFIX):
                    continue
                key = keylib.join_parts((*relative, name))
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc.strerror or exc}") from None

