"""Checkpoint names: ``<n>_Step-<s>.ckpt`` and ``model_<n>.pb`` (docs/protocol.md §4.1, §6.1).

One place for the naming facts that the trainer, the store, the rollout and the exporters share:
the checkpoint name, the files a checkpoint consists of, and the pointer files beside them.
``n`` counts checkpoints, ``s`` the transitions the trainer has ingested. Pointers
(``.coach_checkpoint``) are read with Coach's own, looser pattern, because that is how rollout
workers read them; the files we list and write follow the strict ``<n>_Step-<s>.ckpt`` form.
"""
from __future__ import annotations

import re
from typing import Iterable, NamedTuple

# The pointer to the newest checkpoint, in a local checkpoint folder and under ``<prefix>/model/`` (§4.1).
COACH_CHECKPOINT_FILE = ".coach_checkpoint"
# TensorFlow's checkpoint state file; the 2020 image published it as its "version file" (§4.4, §4.5).
TF_STATE_FILE = "checkpoint"
# The files of one checkpoint as TF writes them for our single-shard saves (§6.1).
CHECKPOINT_SUFFIXES = (".index", ".meta", ".data-00000-of-00001")

# rl_coach/checkpoint.py's pattern: the number is the leading digits, or the `-N` suffix of TF names.
COACH_CHECKPOINT_PATTERN = re.compile(r"\A(([0-9]+)[^0-9])?.*?\.ckpt(-([0-9]+))?")
# ``<n>_Step-<s>.ckpt``, and ``<n>_Step-<s>.ckpt.<suffix>``: one file of a checkpoint (``index``,
# ``meta``, ``data-<i>-of-<k>``).
_NAME = r"(?P<name>(?P<number>[0-9]+)_Step-(?P<steps>[0-9]+)\.ckpt)"
CHECKPOINT_NAME_PATTERN = re.compile(rf"\A{_NAME}\Z")
CHECKPOINT_FILE_PATTERN = re.compile(rf"\A{_NAME}\.(?P<suffix>.*)\Z")
_TF_STATE_PATH = re.compile(r'"([^"]*)"')
# ``model_<n>.pb``: a frozen graph (§6.1).
_FROZEN_MODEL_PATTERN = re.compile(r"\Amodel_(?P<number>[0-9]+)\.pb\Z")


class CheckpointFile(NamedTuple):
    """What a file name says about the checkpoint it belongs to."""

    number: int
    steps: int
    suffix: str  # without the dot: "index", "meta", "data-00000-of-00001"

    @property
    def name(self) -> str:
        return checkpoint_name(self.number, self.steps)


def split_checkpoint_name(name: str) -> tuple[int, int] | None:
    """``(n, s)`` of a strict ``<n>_Step-<s>.ckpt`` name; None for anything else."""
    match = CHECKPOINT_NAME_PATTERN.match(name)
    return (int(match.group("number")), int(match.group("steps"))) if match else None


def parse_checkpoint_file(filename: str) -> CheckpointFile | None:
    """The checkpoint a file such as ``12_Step-3400.ckpt.index`` belongs to; None for any other file."""
    match = CHECKPOINT_FILE_PATTERN.match(filename)
    if match is None:
        return None
    return CheckpointFile(int(match.group("number")), int(match.group("steps")), match.group("suffix"))


def highest_checkpoint(filenames: Iterable[str], suffix: str | None = None) -> str | None:
    """The name of the highest-numbered checkpoint with a file among ``filenames`` (ties: more steps).

    ``suffix`` (``"index"``) counts only that file of each checkpoint. None when there is none.
    """
    found = [parsed for parsed in map(parse_checkpoint_file, filenames)
             if parsed is not None and (suffix is None or parsed.suffix == suffix)]
    return max(found).name if found else None


def name_from_tf_state(text: str) -> str | None:
    """The checkpoint TF's state file names on its first line, ``model_checkpoint_path: "<path>"``."""
    first_line = text.splitlines()[0] if text else ""
    match = _TF_STATE_PATH.search(first_line)
    if not match:
        return None
    # 2020 Windows trainers wrote this path with backslashes; only the file name matters.
    return re.split(r"[\\/]", match.group(1))[-1] or None


def checkpoint_name(number: int, steps: int) -> str:
    """``<n>_Step-<s>.ckpt``."""
    return f"{number}_Step-{steps}.ckpt"


def frozen_model_filename(number: int) -> str:
    """``model_<n>.pb``, the same name locally and in the bucket."""
    return f"model_{number}.pb"


def parse_frozen_model_number(name: str) -> int | None:
    """``n`` of a ``model_<n>.pb`` file name; None for any other name."""
    match = _FROZEN_MODEL_PATTERN.match(name)
    return int(match.group("number")) if match else None


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
