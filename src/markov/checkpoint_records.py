"""``deepracer_checkpoints.json``: which checkpoint is the best and which the last (docs/protocol.md §4.1, §6.3).

Rollout worker 0 writes it; the trainer, the exporters and DRfC's tools read it. One place for
its format: ``{"best_checkpoint": {"name", "avg_eval_metric", "time_stamp"}, "last_checkpoint":
{...}}``. DRfC-made files say ``avg_comp_pct`` instead of ``avg_eval_metric``; only names are read.
"""
from __future__ import annotations

import json
import time

FILE_NAME = "deepracer_checkpoints.json"


def parse_checkpoint_records(raw: bytes) -> tuple[str | None, str | None]:
    """``(best name, last name)``; None where the file names none.

    Raises:
        ValueError: when the content is not JSON of that shape; callers decide how loud to be.
    """
    content = json.loads(raw.decode("utf-8"))
    if not isinstance(content, dict):
        raise ValueError(f"{FILE_NAME} holds {type(content).__name__}, not an object")

    def name(key: str) -> str | None:
        entry = content.get(key)
        value = entry.get("name") if isinstance(entry, dict) else None
        return str(value) if value else None

    return name("best_checkpoint"), name("last_checkpoint")


def checkpoint_records_json(best: str, last: str, best_metric: float | None = None,
                            last_metric: float | None = None) -> bytes:
    """The file's bytes, as rollout worker 0 writes it."""
    now = time.time()
    content = {
        "best_checkpoint": {"name": best, "avg_eval_metric": best_metric, "time_stamp": now},
        "last_checkpoint": {"name": last, "avg_eval_metric": last_metric, "time_stamp": now},
    }
    return json.dumps(content, indent=2).encode("utf-8")
