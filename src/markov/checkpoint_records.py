"""``deepracer_checkpoints.json``: which checkpoint is the best and which the last (docs/protocol.md §4.1, §6.3).

Rollout worker 0 writes it; the trainer, the exporters and DRfC's tools read it. One place for
its format: ``{"best_checkpoint": {"name", "avg_eval_metric", "time_stamp"}, "last_checkpoint":
{...}}``. DRfC-made files say ``avg_comp_pct`` instead of ``avg_eval_metric``.

It is also the one place that decides which checkpoint ``best`` and ``last`` mean when the file
is not the whole story (:func:`choose_checkpoint`), for the trainer's restore, the pretrained
download and the exporters alike.
"""
from __future__ import annotations

import json
import time
from typing import Callable, Optional

from markov.checkpoint_names import COACH_CHECKPOINT_FILE

FILE_NAME = "deepracer_checkpoints.json"
BEST = "best"
LAST = "last"

# A source of a checkpoint name, read only when the sources before it named none (each may be a GET).
NameSource = Optional[Callable[[], Optional[str]]]


def parse_checkpoint_records(raw: bytes) -> tuple[str | None, str | None]:
    """``(best name, last name)``; None where the file names none.

    Raises:
        ValueError: when the content is not JSON of that shape; callers decide how loud to be.
    """
    content = _load(raw)

    def name(key: str) -> str | None:
        entry = content.get(key)
        value = entry.get("name") if isinstance(entry, dict) else None
        return str(value) if value else None

    return name("best_checkpoint"), name("last_checkpoint")


def parse_best_score(raw: bytes) -> tuple[str, float] | None:
    """``(name, avg_eval_metric)`` of the best checkpoint, when the file records both; else None.

    Raises:
        ValueError: when the content is not JSON of the file's shape.
    """
    entry = _load(raw).get("best_checkpoint")
    if not isinstance(entry, dict) or not entry.get("name") or entry.get("avg_eval_metric") is None:
        return None
    try:
        return str(entry["name"]), float(entry["avg_eval_metric"])
    except (TypeError, ValueError):
        raise ValueError(f"{FILE_NAME}: best_checkpoint.avg_eval_metric is not a number") from None


def _load(raw: bytes) -> dict:
    content = json.loads(raw.decode("utf-8"))
    if not isinstance(content, dict):
        raise ValueError(f"{FILE_NAME} holds {type(content).__name__}, not an object")
    return content


def choose_checkpoint(which: str, records: tuple[str | None, str | None] = (None, None), *,
                      pointer: NameSource = None, tf_state: NameSource = None,
                      highest: NameSource = None) -> tuple[str | None, str]:
    """The checkpoint ``best`` or ``last`` names, and where the name came from (for messages).

    The order, as the image's tools resolve it (docs/protocol.md §4.4, §6.3): this file's
    ``best_checkpoint`` (for ``best``; DRfC falls back to ``last_checkpoint`` when no best is
    recorded yet) or ``last_checkpoint``; then ``.coach_checkpoint``, the newest published
    checkpoint; then TF's state file (models of the 2020 image, whose trainer wrote no pointer);
    then the highest-numbered checkpoint present. Callers give the sources they have; a source
    is read only if every one before it named nothing.

    Returns:
        ``(name, source)``; name is None when no source names a checkpoint.
    """
    best, last = records
    if which == BEST and best:
        return best, f"{FILE_NAME} best_checkpoint"
    if last:
        return last, f"{FILE_NAME} last_checkpoint" + (" (no best recorded)" if which == BEST else "")
    for source, description in ((pointer, COACH_CHECKPOINT_FILE), (tf_state, "the TF checkpoint state file"),
                                (highest, "the highest-numbered checkpoint")):
        name = source() if source is not None else None
        if name:
            return name, description
    return None, "no checkpoint"


def checkpoint_records_json(best: str, last: str, best_metric: float | None = None,
                            last_metric: float | None = None) -> bytes:
    """The file's bytes, as rollout worker 0 writes it."""
    now = time.time()
    content = {
        "best_checkpoint": {"name": best, "avg_eval_metric": best_metric, "time_stamp": now},
        "last_checkpoint": {"name": last, "avg_eval_metric": last_metric, "time_stamp": now},
    }
    return json.dumps(content, indent=2).encode("utf-8")
