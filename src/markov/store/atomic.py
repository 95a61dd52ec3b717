"""Atomic replacement of local files.

The trainer rewrites ``.coach_checkpoint`` and frozen models while other processes read them,
and the local store stands in for S3, whose PUT is atomic. Writing to a temporary file in the
same folder and moving it into place with ``os.replace`` gives readers the old or the new file,
never half of one, on Linux and Windows alike.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

# Temporary files carry this suffix so that a concurrent listing can skip them.
PARTIAL_SUFFIX = ".partial"


def atomic_write(target: str | Path, fill: Callable[[BinaryIO], object]) -> None:
    """Create or replace ``target``; ``fill`` writes the content to the open binary handle."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise_if_disk_full(exc, target)
        raise
    try:
        with os.fdopen(handle, "wb") as out:
            fill(out)
        os.replace(temp_name, target)
    except BaseException as exc:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise_if_disk_full(exc, target)
        raise


def raise_if_disk_full(exc: OSError, target: str | Path) -> None:
    """Turn "no space left" into ``DiskFullError`` naming the file: the trainer waits for space instead of dying."""
    from markov.store.backend import DiskFullError

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFullError(f"no space left on the device of {target} ({exc.strerror}); free some space there") from None


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    """Create or replace ``target`` with ``data``."""
    atomic_write(target, lambda out: out.write(data))
