"""Checkpoint names: ``<n>_Step-<s>.ckpt`` and ``model_<n>.pb`` (docs/protocol.md §4.1, §6.1).

One place for the naming fact that the trainer, the store and the exporters share. ``n`` counts
checkpoints, ``s`` the transitions the trainer has ingested. Pointers (``.coach_checkpoint``) are
read with Coach's own, looser pattern, because that is how rollout workers read them.
"""
from __future__ import annotations

import re

# rl_coach/checkpoint.py's pattern: the number is the leading digits, or the `-N` suffix of TF names.
COACH_CHECKPOINT_PATTERN = re.compile(r"\A(([0-9]+)[^0-9])?.*?\.ckpt(-([0-9]+))?")


def checkpoint_name(number: int, steps: int) -> str:
    """``<n>_Step-<s>.ckpt``."""
    return f"{number}_Step-{steps}.ckpt"


def frozen_model_filename(number: int) -> str:
    """``model_<n>.pb``, the same name locally and in the bucket."""
    return f"model_{number}.pb"


def parse_coach_checkpoint(text: str) -> tuple[int, str] | None:
    """``(number, name)`` from a pointer's text, as Coach and the rollout workers parse it; None if none."""
    match = COACH_CHECKPOINT_PATTERN.match(text.strip())
    if match is None or (match.group(2) is None and match.group(4) is None):
        return None
    return int(match.group(2) if match.group(2) is not None else match.group(4)), match.group(0)


def parse_checkpoint_number(text: str) -> int | None:
    """The checkpoint number in a name such as ``12_Step-3400.ckpt``; None if it has none."""
    parsed = parse_coach_checkpoint(text)
    return parsed[0] if parsed else None
