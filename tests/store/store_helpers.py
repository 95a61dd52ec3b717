"""Helpers for the store tests: local checkpoint folders as Coach/TF leave them, and a write recorder."""
from __future__ import annotations

from pathlib import Path

SUFFIXES = (".index", ".data-00000-of-00001", ".meta")


def save_checkpoint(folder: Path, number: int, step: int) -> str:
    """Write ``<n>_Step-<s>.ckpt.*``, TF's ``checkpoint`` file and ``.coach_checkpoint``; return the name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{number}_Step-{step}.ckpt"
    for suffix in SUFFIXES:
        (folder / (name + suffix)).write_bytes(f"{name}{suffix}".encode())
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{name}"\n')
    (folder / ".coach_checkpoint").write_text(name)
    return name


def checkpoint_keys(prefix: str, name: str) -> list[str]:
    return sorted(f"{prefix}/model/{name}{suffix}" for suffix in SUFFIXES)


class RecordingStore:
    """Passes every call to a real backend and records the writes, to check their order."""

    def __init__(self, inner):
        self.inner = inner
        self.writes = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def put_bytes(self, key, data):
        self.writes.append(("put", key))
        self.inner.put_bytes(key, data)

    def put_file(self, key, path):
        self.writes.append(("put", key))
        self.inner.put_file(key, path)

    def delete(self, key):
        self.writes.append(("delete", key))
        self.inner.delete(key)


class MemoryStore:
    """An ObjectStore in a dict, for tests that must not touch the file system's path rules."""

    location = "memory"

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def uri(self, key):
        return f"memory://{key}"

    def check(self):
        pass

    def ensure_bucket(self):
        return False

    def put_bytes(self, key, data):
        self.objects[key] = bytes(data)

    def put_file(self, key, path):
        with open(path, "rb") as handle:
            self.objects[key] = handle.read()

    def get_bytes(self, key):
        from markov.store.backend import ObjectNotFoundError
        if key not in self.objects:
            raise ObjectNotFoundError(f"{key} does not exist")
        return self.objects[key]

    def download_file(self, key, path):
        data = self.get_bytes(key)
        with open(path, "wb") as handle:
            handle.write(data)

    def exists(self, key):
        return key in self.objects

    def list(self, prefix):
        return sorted(key for key in self.objects if key.startswith(prefix))

    def delete(self, key):
        self.objects.pop(key, None)
