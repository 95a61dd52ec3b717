"""Checkpoints read from the store: the rollout worker's load and wait, and the pretrained download.

Wire rules this module keeps (docs/protocol.md §4.2, §4.4):
- A checkpoint is loaded only while no publish holds ``model/.lock`` (unless the caller says to
  ignore it), and only the one ``.coach_checkpoint`` names (or, when its files are gone, the
  highest-numbered one present).
- A pretrained model is only read: nothing is written into its prefix, and the new run's
  checkpoint ids continue after the pretrained one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from markov.checkpoint_names import highest_checkpoint, name_from_tf_state, parse_checkpoint_number
from markov.checkpoint_records import BEST, LAST, choose_checkpoint
from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.backend import ObjectStore, StoreUnavailableError, get_bytes_or_none
from markov.store.checkpoint_dir import prune_checkpoints, write_local_coach_checkpoint
from markov.store.keys import ModelKeys
from markov.store.publisher import NUM_MODELS_TO_KEEP
from markov.store.records import read_checkpoint_records

log = logging.getLogger(__name__)


def get_coach_checkpoint_number(store: ObjectStore, keys: ModelKeys) -> int:
    """The published checkpoint number; -1 while a publish holds the lock or none exists (§4.2 step 6)."""
    if store.exists(keys.lock):
        return -1
    data = get_bytes_or_none(store, keys.coach_checkpoint)
    if data is None:
        return -1
    number = parse_checkpoint_number(data.decode("utf-8", "replace"))
    return -1 if number is None else number


def load_from_store(store: ObjectStore, keys: ModelKeys, local_dir: str | Path, *,
                    expected_number: int | None = None, ignore_lock: bool = False,
                    keep: int = NUM_MODELS_TO_KEEP) -> str | None:
    """Download the published checkpoint into ``local_dir``, as the rollout worker does (§4.2 step 3).

    Returns the checkpoint name, or None when it is not ready yet: the lock is held, there is no
    pointer, or the pointer is older than ``expected_number``. ``.finished`` and ``.ready`` are
    fetched too when present, and only the ``keep`` newest checkpoints stay in ``local_dir``.

    Raises:
        StorageError: when the pointer exists but the prefix holds no checkpoint files at all.
    """
    if not ignore_lock and store.exists(keys.lock):
        return None
    pointer = get_bytes_or_none(store, keys.coach_checkpoint)
    if pointer is None:
        return None
    name = pointer.decode("utf-8", "replace").strip()
    number = parse_checkpoint_number(name)
    if expected_number is not None and (number is None or number < expected_number):
        return None
    objects = store.list(keys.model_dir)
    name = _download_checkpoint(store, keys, name, Path(local_dir), objects)
    for key, filename in ((keys.finished, keylib.FINISHED_FILE), (keys.ready, keylib.READY_FILE)):
        if key in objects:
            store.download_file(key, Path(local_dir) / filename)
    prune_checkpoints(Path(local_dir), name, keep)
    return name


def wait_for_checkpoint(store: ObjectStore, keys: ModelKeys, local_dir: str | Path, *,
                        expected_number: int | None = None, timeout_s: float = 1200.0, poll_s: float = 1.0,
                        sleep: Callable[[float], None] = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> str:
    """``load_from_store`` every ``poll_s`` until a checkpoint arrives; returns its name.

    Raises:
        StorageError: after ``timeout_s`` without a checkpoint, naming the pointer key.
    """
    deadline = clock() + timeout_s
    while True:
        try:
            name = load_from_store(store, keys, local_dir, expected_number=expected_number)
        except StoreUnavailableError as exc:  # waiting anyway: a store that is away is waited for too
            log.warning("Waiting for a checkpoint: %s", exc)
            name = None
        if name is not None:
            return name
        if clock() >= deadline:
            wanted = f" numbered >= {expected_number}" if expected_number is not None else ""
            raise StorageError(f"no checkpoint{wanted} at {store.uri(keys.coach_checkpoint)} after {timeout_s:.0f} s; "
                               "is the trainer running with this bucket and prefix?")
        log.info("Waiting for a checkpoint at %s", store.uri(keys.coach_checkpoint))
        sleep(poll_s)


@dataclass(frozen=True)
class PretrainedCheckpoint:
    """A pretrained checkpoint downloaded for restore."""

    name: str
    number: int
    local_dir: Path

    @property
    def next_number(self) -> int:
        """The new run's first checkpoint number: ids continue after the pretrained one (§4.4 step 4)."""
        return self.number + 1


def download_pretrained(store: ObjectStore, keys: ModelKeys, local_dir: str | Path, *,
                        checkpoint: str = "best", metadata_version: float = 2.0) -> PretrainedCheckpoint:
    """Download the best or last checkpoint of an earlier model for restore (docs/protocol.md §4.4).

    ``checkpoint`` is ``best`` (case-insensitive) or anything else for last. The choice comes
    from the model's ``deepracer_checkpoints.json``, else from its ``.coach_checkpoint``, else (for
    v<2 models, whose trainer wrote none) from TF's ``model/checkpoint`` state file, else the
    highest-numbered checkpoint present. Unlike the image, nothing is written into the pretrained
    prefix: the earlier model is only read, so a read-only bucket works and its pointer is kept.

    Raises:
        StorageError: when the prefix holds no model, naming it.
    """
    objects = store.list(keys.model_dir)
    if not objects:
        raise StorageError(f"the pretrained model {store.uri(keys.model_dir)} is empty; check "
                           "--pretrained_s3_bucket and --pretrained_s3_prefix")
    records = read_checkpoint_records(store, keys)

    def pointer() -> str | None:
        data = get_bytes_or_none(store, keys.coach_checkpoint) if keys.coach_checkpoint in objects else None
        return data.decode("utf-8", "replace").strip() if data else None

    def tf_state() -> str | None:
        if metadata_version >= 2 or keys.tf_checkpoint_state not in objects:
            return None
        return name_from_tf_state(store.get_bytes(keys.tf_checkpoint_state).decode("utf-8", "replace"))

    name, _ = choose_checkpoint(BEST if checkpoint.strip().lower() == BEST else LAST, (records.best, records.last),
                                pointer=pointer, tf_state=tf_state)
    local = Path(local_dir)
    name = _download_checkpoint(store, keys, name or "", local, objects)
    # Coach refuses to restore from a folder that holds a TF `checkpoint` state file (§4.4 step 4).
    (local / keylib.TF_CHECKPOINT_STATE_FILE).unlink(missing_ok=True)
    number = parse_checkpoint_number(name)
    log.info("Pretrained checkpoint %s from %s", name, store.uri(keys.model_dir))
    return PretrainedCheckpoint(name=name, number=number if number is not None else 0, local_dir=local)


def _download_checkpoint(store: ObjectStore, keys: ModelKeys, name: str, local_dir: Path, objects: list[str]) -> str:
    """Download checkpoint ``name`` (or, if its files are gone, the highest-numbered one) and point to it."""
    wanted = [key for key in objects if name and keylib.basename(key).startswith(name) and not key.endswith(".pb")]
    if not wanted:
        newest = highest_checkpoint(keylib.basename(key) for key in objects)
        if newest is None:
            raise StorageError(f"no checkpoint files under {store.uri(keys.model_dir)} "
                               f"(pointer names {name or 'nothing'}); the model has no checkpoint to load")
        if name:
            log.warning("checkpoint %s is not in %s; using %s instead", name, store.uri(keys.model_dir), newest)
        name = newest
        wanted = [key for key in objects if keylib.basename(key).startswith(name) and not key.endswith(".pb")]
    local_dir.mkdir(parents=True, exist_ok=True)
    for key in wanted:
        store.download_file(key, local_dir / keylib.basename(key))
    write_local_coach_checkpoint(local_dir, name)
    return name
