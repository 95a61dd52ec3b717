"""What a trainer finds in its prefix at start-up, and how it goes on from there (docs/reliability.md).

A user who reruns a crashed training expects it to go on, so a prefix that already holds a
model is continued, never clobbered: the trainer restores the newest *whole* committed
checkpoint and numbers the next ones after it. The image's trainer starts from fresh weights
and writes ``1_Step-...`` over the trained checkpoints of the same number; that is the defect
this module exists to avoid.

What "committed" means: the publish order (docs/protocol.md §4.3) uploads a checkpoint's files
and only then moves ``.coach_checkpoint`` to it, so the pointer is the commit record.
Checkpoint files numbered above the pointer are a publish that a kill interrupted; the
episodes they were trained on were never acknowledged to the rollout workers (the trainer
ends an iteration only after the publish), so they are removed and trained again. Below the
pointer, a checkpoint with files missing was being deleted by retention when the trainer was
killed; its remaining files are removed too. "Whole" means the ``.index`` and every
``.data-<i>-of-<n>`` shard are there.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from markov.checkpoint_names import (checkpoint_name, parse_checkpoint_file, parse_checkpoint_number,
                                     parse_frozen_model_number)
from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.backend import ObjectStore, get_bytes_or_none
from markov.store.checkpoint_dir import write_local_coach_checkpoint
from markov.store.keys import ModelKeys

log = logging.getLogger(__name__)

# TensorFlow's data shards: ``.data-00000-of-00002`` and ``.data-00001-of-00002`` make one checkpoint.
_SHARD = re.compile(r"\Adata-(?P<index>[0-9]+)-of-(?P<count>[0-9]+)\Z")


@dataclass
class StoredCheckpoint:
    """One checkpoint's objects in ``model/``."""

    number: int
    step: int
    keys: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return checkpoint_name(self.number, self.step)

    @property
    def whole(self) -> bool:
        """The ``.index`` and every data shard are there: TensorFlow can restore it."""
        suffixes = {key.rsplit(".ckpt.", 1)[1] for key in self.keys}
        shards = [_SHARD.match(suffix) for suffix in suffixes]
        counts = {int(match.group("count")) for match in shards if match}
        if "index" not in suffixes or len(counts) != 1:
            return False
        count = counts.pop()
        return {int(match.group("index")) for match in shards if match} == set(range(count))


@dataclass
class ModelState:
    """A prefix's checkpoints after clean-up: what a trainer continues from."""

    checkpoints: list[StoredCheckpoint]   # whole and committed, oldest first
    pointer: str | None                   # ``.coach_checkpoint`` as found
    removed: list[str]                    # keys removed by the clean-up
    highest_number: int                   # the highest checkpoint number seen, removed ones included; -1 if none

    @property
    def newest(self) -> StoredCheckpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None


def inspect_and_clean(store: ObjectStore, keys: ModelKeys) -> ModelState:
    """Read the prefix's checkpoints, remove half and uncommitted ones, and return what is left.

    Raises:
        StorageError: when the store cannot be read or written.
    """
    objects = store.list(keys.model_dir)
    found: dict[int, StoredCheckpoint] = {}
    frozen: dict[int, str] = {}
    for key in objects:
        base = keylib.basename(key)
        parsed = parse_checkpoint_file(base)
        if parsed is not None:
            entry = found.setdefault(parsed.number, StoredCheckpoint(parsed.number, parsed.steps))
            entry.step = max(entry.step, parsed.steps)
            entry.keys.append(key)
            continue
        frozen_number = parse_frozen_model_number(base)
        if frozen_number is not None:
            frozen[frozen_number] = key
    pointer_bytes = get_bytes_or_none(store, keys.coach_checkpoint) if keys.coach_checkpoint in objects else None
    pointer = (pointer_bytes.decode("utf-8", "replace").strip() or None) if pointer_bytes is not None else None
    committed_up_to = parse_checkpoint_number(pointer) if pointer else None

    keep: list[StoredCheckpoint] = []
    removed: list[str] = []
    for number in sorted(found):
        entry = found[number]
        uncommitted = committed_up_to is not None and number > committed_up_to
        if entry.whole and not uncommitted:
            keep.append(entry)
            continue
        why = "a publish interrupted before its pointer" if uncommitted else "files missing"
        log.warning("Removing checkpoint %s from %s (%s)", entry.name, store.uri(keys.model_dir), why)
        removed.extend(entry.keys)
    kept_numbers = {entry.number for entry in keep}
    removed.extend(key for number, key in frozen.items() if number not in kept_numbers)
    for key in removed:
        store.delete(key)
    highest = max([*found, *frozen], default=-1)
    return ModelState(checkpoints=keep, pointer=pointer, removed=removed, highest_number=highest)


def refuse_overwrite(store: ObjectStore, keys: ModelKeys, name: str) -> None:
    """Raise rather than write checkpoint ``name`` over files of that name already in the store.

    Raises:
        StorageError: naming the prefix and the checkpoint.
    """
    if store.exists(keys.model_file(name + ".index")):
        raise StorageError(f"{store.uri(keys.model_dir)} already holds checkpoint {name}; refusing to overwrite "
                           "another model's checkpoint. Use a new --s3_prefix, or delete that prefix")


def download_checkpoint(store: ObjectStore, checkpoint: StoredCheckpoint, local_dir: str | Path) -> Path:
    """Copy one whole checkpoint's files into ``local_dir`` with a ``.coach_checkpoint`` naming it."""
    local = Path(local_dir)
    local.mkdir(parents=True, exist_ok=True)
    for stale in local.iterdir():  # a restore folder holds exactly one checkpoint
        if stale.is_file():
            stale.unlink()
    for key in checkpoint.keys:
        store.download_file(key, local / keylib.basename(key))
    write_local_coach_checkpoint(local, checkpoint.name)
    return local


def point_to(store: ObjectStore, keys: ModelKeys, checkpoint: StoredCheckpoint) -> bool:
    """Make ``.coach_checkpoint`` name ``checkpoint`` (under the lock); False if it already did."""
    current = get_bytes_or_none(store, keys.coach_checkpoint)
    if current is not None and current.decode("utf-8", "replace").strip() == checkpoint.name:
        return False
    store.delete(keys.lock)
    store.put_bytes(keys.lock, b"")
    try:
        store.put_bytes(keys.coach_checkpoint, checkpoint.name.encode("utf-8"))
    finally:
        store.delete(keys.lock)
    return True

