"""``deepracer_checkpoints.json`` in the store: reading and writing it under the model's key.

The file's format, and which checkpoint ``best`` and ``last`` mean, live in
:mod:`markov.checkpoint_records` (docs/protocol.md §6.3); this module only moves it to and from
a bucket, with the store's rule for a missing or unreadable file: nothing known yet, which is
normal before rollout worker 0 has evaluated a checkpoint.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from markov.checkpoint_names import parse_checkpoint_number
from markov.checkpoint_records import checkpoint_records_json, parse_checkpoint_records
from markov.store.backend import ObjectStore, get_bytes_or_none
from markov.store.keys import ModelKeys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointRecords:
    """Best and last checkpoint names from ``deepracer_checkpoints.json`` (written by rollout worker 0)."""

    best: str | None = None
    last: str | None = None

    @property
    def best_number(self) -> int:
        """The best checkpoint's number, or -1 if unknown (the image's convention)."""
        return _number_or_minus_one(self.best)

    @property
    def last_number(self) -> int:
        """The last evaluated checkpoint's number, or -1 if unknown."""
        return _number_or_minus_one(self.last)


def _number_or_minus_one(name: str | None) -> int:
    number = parse_checkpoint_number(name) if name else None
    return -1 if number is None else number


def read_checkpoint_records(store: ObjectStore, keys: ModelKeys) -> CheckpointRecords:
    """Read ``deepracer_checkpoints.json``; missing or unreadable means nothing known yet (normal early on)."""
    data = get_bytes_or_none(store, keys.deepracer_checkpoints)
    if data is None:
        return CheckpointRecords()
    try:
        best, last = parse_checkpoint_records(data)
    except ValueError:
        log.warning("%s is not valid JSON; ignoring it", store.uri(keys.deepracer_checkpoints))
        return CheckpointRecords()
    return CheckpointRecords(best=best, last=last)


def write_checkpoint_records(store: ObjectStore, keys: ModelKeys, best: str, last: str,
                             best_metric: float | None = None, last_metric: float | None = None) -> None:
    """Write ``deepracer_checkpoints.json`` as rollout worker 0 does (for our own rollout and tests)."""
    store.put_bytes(keys.deepracer_checkpoints, checkpoint_records_json(best, last, best_metric, last_metric))
