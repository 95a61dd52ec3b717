"""The local checkpoint folder: which files make a checkpoint, and its ``.coach_checkpoint`` pointer.

Coach saves into a folder (``./checkpoint_sagemaker/agent`` on the trainer) and the rollout
worker restores from one; both sides mirror the bucket's ``model/`` there (docs/protocol.md
§4.2, §4.3). Kept apart from the upload and download code because the trainer's publish, the
rollout's load, the pretrained download and the resume all read or write the same folder.
"""
from __future__ import annotations

from pathlib import Path

from markov.checkpoint_names import parse_checkpoint_file
from markov.store import keys as keylib
from markov.store.atomic import PARTIAL_SUFFIX, atomic_write_bytes


def checkpoint_files(checkpoint_dir: str | Path, name: str) -> list[Path]:
    """The local files of checkpoint ``name`` (``.index``, ``.data-*``, ``.meta``), sorted.

    TF's ``checkpoint`` state file and ``.coach_checkpoint`` never match, so they are not uploaded (§4.3 step 2).
    """
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.name.startswith(name + ".") and not path.name.endswith(PARTIAL_SUFFIX))


def read_local_coach_checkpoint(checkpoint_dir: str | Path) -> str | None:
    """The checkpoint name in ``<dir>/.coach_checkpoint``, or None if there is none."""
    path = Path(checkpoint_dir) / keylib.COACH_CHECKPOINT_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def write_local_coach_checkpoint(checkpoint_dir: str | Path, name: str) -> None:
    """Write ``<dir>/.coach_checkpoint``: the bare name, no newline, as Coach writes it."""
    atomic_write_bytes(Path(checkpoint_dir) / keylib.COACH_CHECKPOINT_FILE, name.encode("utf-8"))


def prune_checkpoints(local_dir: Path, current: str, keep: int) -> None:
    """Keep the checkpoint just loaded and the ``keep - 1`` newest others."""
    numbers: dict[int, list[Path]] = {}
    for path in local_dir.iterdir():
        parsed = parse_checkpoint_file(path.name)
        if parsed and not path.name.startswith(current + "."):
            numbers.setdefault(parsed.number, []).append(path)
    for number in sorted(numbers)[:max(0, len(numbers) - (keep - 1))]:
        for path in numbers[number]:
            path.unlink(missing_ok=True)
