"""Which checkpoint ``best``, ``last`` or ``N`` means, read the way the image's tools read it.

Rollout worker 0 rewrites ``model/deepracer_checkpoints.json`` after evaluating each checkpoint
(docs/protocol.md §6.3); the trainer only reads it. ``best`` is its ``best_checkpoint.name`` and
``last`` its ``last_checkpoint.name`` (``<n>_Step-<s>.ckpt``), as DRfC's ``create-car-zip.sh``
and ``droa/import_model.py`` pick them. Where the JSON is missing (no evaluation yet, or a
trainer-only run) the image falls back to ``.coach_checkpoint``, the newest published name
(§4.4 step 2); so do we. ``N`` is the checkpoint id, the number before ``_Step-``.

A model folder is reached through :class:`ModelFolder`, a local directory or an object-store
prefix, so the same selection serves ``export DIR`` and ``export s3://bucket/prefix``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from markov.checkpoint_names import (
    CHECKPOINT_SUFFIXES,
    COACH_CHECKPOINT_FILE,
    checkpoint_name,
    frozen_model_filename,
    highest_checkpoint,
    parse_checkpoint_file,
    split_checkpoint_name,
)
from markov.checkpoint_records import (
    BEST,
    LAST,
    choose_checkpoint,
    parse_checkpoint_records,
)
from markov.checkpoint_records import FILE_NAME as RECORDS_FILE_NAME
from markov.errors import ConfigError

log = logging.getLogger(__name__)

DEEPRACER_CHECKPOINTS = RECORDS_FILE_NAME
MODEL_METADATA = "model_metadata.json"


@dataclass(frozen=True, order=True)
class CheckpointName:
    """``<number>_Step-<steps>.ckpt``: the checkpoint id and the transitions ingested so far."""

    number: int
    steps: int

    @property
    def name(self) -> str:
        return checkpoint_name(self.number, self.steps)

    @property
    def frozen_model(self) -> str:
        """File name of the frozen graph published with it (§4.1 ``model_<n>.pb``)."""
        return frozen_model_filename(self.number)

    def files(self) -> tuple[str, ...]:
        return tuple(self.name + suffix for suffix in CHECKPOINT_SUFFIXES)

    def __str__(self) -> str:
        return self.name


def parse_checkpoint_name(text: str, source: str = "checkpoint name") -> CheckpointName:
    """Parse ``<n>_Step-<s>.ckpt`` (surrounding whitespace allowed, as in hand-edited pointers).

    The image's own parser is looser, but every name it writes fits this.
    """
    parts = split_checkpoint_name(text.strip())
    if parts is None:
        raise ConfigError(f"{source}: {text.strip()!r} is not a checkpoint name like '12_Step-3456.ckpt'")
    return CheckpointName(*parts)


class ModelFolder(Protocol):
    """The ``model/`` folder of a run, wherever it is."""

    @property
    def location(self) -> str:
        """Printable address, for messages."""

    def names(self) -> list[str]:
        """File names directly in the folder."""

    def read(self, name: str) -> bytes | None:
        """A file's bytes, or None if it does not exist."""

    def fetch(self, name: str, destination: Path) -> None:
        """Copy a file to a local path."""

    def read_run_file(self, postfix: str) -> bytes | None:
        """A file of the run around the folder (``<prefix>/<postfix>``, e.g. ``ip/hyperparameters.json``)."""


class LocalModelFolder:
    """A local directory holding checkpoint files (a downloaded ``model/`` or the trainer's ``agent/``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.is_file())

    def read(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def fetch(self, name: str, destination: Path) -> None:
        destination.write_bytes((self.path / name).read_bytes())

    def read_run_file(self, postfix: str) -> bytes | None:
        # A downloaded `model/` or the trainer's `agent/` sits inside the run folder.
        root = self.path.parent if self.path.name in ("model", "agent") else self.path
        try:
            return root.joinpath(*postfix.split("/")).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None


class StoreModelFolder:
    """``<prefix>/model/`` in an object store (``markov.store``: S3, MinIO or a local bucket dir)."""

    def __init__(self, store, model_prefix: str):
        self.store = store
        self.prefix = model_prefix.rstrip("/") + "/"

    @property
    def location(self) -> str:
        return self.store.uri(self.prefix)

    def names(self) -> list[str]:
        return sorted({key[len(self.prefix):] for key in self.store.list(self.prefix) if "/" not in key[len(self.prefix):]})

    def read(self, name: str) -> bytes | None:
        from markov.store.backend import get_bytes_or_none

        return get_bytes_or_none(self.store, self.prefix + name)

    def fetch(self, name: str, destination: Path) -> None:
        self.store.download_file(self.prefix + name, destination)

    def read_run_file(self, postfix: str) -> bytes | None:
        from markov.store import keys
        from markov.store.backend import get_bytes_or_none

        run_prefix = self.prefix.rstrip("/").rsplit("/", 1)[0] if "/" in self.prefix.rstrip("/") else ""
        return get_bytes_or_none(self.store, keys.join(run_prefix, postfix))


def open_local_model_folder(path: str | Path) -> LocalModelFolder:
    """The folder with the checkpoints under ``path``: ``path`` itself, ``path/model`` or ``path/agent``.

    Accepts a run's prefix folder (with ``model/``), a downloaded ``model/`` folder, or the
    trainer's local checkpoint dir (``checkpoint_sagemaker`` with ``agent/``).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{root}: checkpoint folder not found; pass the model prefix folder or its model/ folder")
    for candidate in (root, root / "model", root / "agent"):
        if candidate.is_dir() and _looks_like_model_folder(candidate):
            return LocalModelFolder(candidate)
    raise ConfigError(f"{root}: holds no checkpoint (no *_Step-*.ckpt.index and no .coach_checkpoint, also not in model/ or agent/)")


def _looks_like_model_folder(path: Path) -> bool:
    return (path / COACH_CHECKPOINT_FILE).is_file() or highest_checkpoint((p.name for p in path.iterdir()), "index") is not None


def available_checkpoints(folder: ModelFolder) -> list[CheckpointName]:
    """Checkpoints whose three files are all in the folder, oldest first."""
    names = set(folder.names())
    found = set()
    for file_name in names:
        parsed = parse_checkpoint_file(file_name)
        if parsed:
            checkpoint = CheckpointName(parsed.number, parsed.steps)
            if all(f in names for f in checkpoint.files()):
                found.add(checkpoint)
    return sorted(found)


@dataclass(frozen=True)
class CheckpointPointers:
    """What the folder's pointer files say: best/last from the JSON, and ``.coach_checkpoint``."""

    best: CheckpointName | None
    last: CheckpointName | None
    coach: CheckpointName | None


def read_pointers(folder: ModelFolder) -> CheckpointPointers:
    """Read ``deepracer_checkpoints.json`` and ``.coach_checkpoint``; absent ones give None."""
    best = last = coach = None
    raw = folder.read(DEEPRACER_CHECKPOINTS)
    if raw is not None:
        source = f"{folder.location}/{DEEPRACER_CHECKPOINTS}"
        try:
            best_name, last_name = parse_checkpoint_records(raw)
        except ValueError:
            raise ConfigError(f"{source}: not valid JSON; delete it or fix it (it is rewritten by rollout worker 0)") from None
        best = _pointer(best_name, "best_checkpoint", source)
        last = _pointer(last_name, "last_checkpoint", source)
    raw = folder.read(COACH_CHECKPOINT_FILE)
    if raw is not None and raw.strip():
        coach = parse_checkpoint_name(raw.decode("utf-8", "replace"), f"{folder.location}/{COACH_CHECKPOINT_FILE}")
    return CheckpointPointers(best=best, last=last, coach=coach)


def _pointer(name: str | None, key: str, source: str) -> CheckpointName | None:
    return parse_checkpoint_name(name, f"{source} {key}.name") if name else None


def parse_step(value: str | int) -> str | int:
    """``best``, ``last`` or a checkpoint id, as ``--step`` takes it."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text in (BEST, LAST):
        return text
    if text.isdigit():
        return int(text)
    raise ConfigError(f"--step {value!r}: use best, last or a checkpoint number such as 12")


def select_checkpoint(folder: ModelFolder, step: str | int = LAST) -> CheckpointName:
    """Resolve ``best``/``last``/``N`` to a checkpoint whose files are in the folder.

    Raises:
        ConfigError: when the pointer names a checkpoint that is not there, or there is none.
    """
    step = parse_step(step)
    available = available_checkpoints(folder)
    if not available:
        raise ConfigError(f"{folder.location}: no complete checkpoint (<n>_Step-<s>.ckpt .index, .meta and .data files)")
    if isinstance(step, int):
        matches = [c for c in available if c.number == step]
        if not matches:
            raise ConfigError(f"{folder.location}: no checkpoint {step}; available: {_numbers(available)}")
        return matches[-1]

    pointers = read_pointers(folder)
    records = (pointers.best.name if pointers.best else None, pointers.last.name if pointers.last else None)
    name, why = choose_checkpoint(step, records, pointer=lambda: pointers.coach.name if pointers.coach else None,
                                  highest=lambda: available[-1].name)
    chosen = parse_checkpoint_name(name)
    if why == COACH_CHECKPOINT_FILE:
        log.info("No %s in %s; using %s (%s), the newest published checkpoint", DEEPRACER_CHECKPOINTS, folder.location,
                 chosen, COACH_CHECKPOINT_FILE)
    if chosen not in available:
        raise ConfigError(
            f"{folder.location}: {why} names {chosen}, whose files are not there; "
            f"available: {_numbers(available)} (use --step N)"
        )
    log.info("Selected checkpoint %s (%s: %s)", chosen, step, why)
    return chosen


def _numbers(checkpoints: list[CheckpointName]) -> str:
    return ", ".join(str(c.number) for c in checkpoints)
