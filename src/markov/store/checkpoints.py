"""Checkpoints in the store: the trainer's publish sequence, pretrained download, and rollout loading.

Wire rules this module keeps (docs/protocol.md §4.2-§4.4, §6):
- A publish runs under ``model/.lock`` in the order checkpoint files -> ``.coach_checkpoint`` ->
  ``model_<n>.pb`` -> clean-up -> unlock, so a rollout worker never sees a pointer to a
  checkpoint whose files are not all uploaded.
- The 4 newest checkpoints stay in the bucket; the best one (named by the rollout's
  ``deepracer_checkpoints.json``) is never deleted and occupies one of the 4 slots.
- Only checkpoints this process uploaded are ever deleted.

TensorFlow is not imported here: the frozen graph arrives as bytes, or as a callable that makes
them from a checkpoint name.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

from markov.checkpoint_names import (
    frozen_model_filename,
    highest_checkpoint,
    name_from_tf_state,
    parse_checkpoint_file,
    parse_checkpoint_number,
)
from markov.checkpoint_records import BEST, LAST, checkpoint_records_json, choose_checkpoint, parse_checkpoint_records
from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.atomic import PARTIAL_SUFFIX, atomic_write_bytes
from markov.store.backend import ObjectStore, StoreUnavailableError, get_bytes_or_none
from markov.store.keys import ModelKeys
from markov.store.resume import refuse_overwrite

log = logging.getLogger(__name__)

NUM_MODELS_TO_KEEP = 4
# The frozen graph of the checkpoint being published: bytes, or a function of the checkpoint name.
FrozenModel = Optional[Union[bytes, Callable[[str], bytes]]]


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


class CheckpointPublisher:
    """Publishes the trainer's checkpoints to ``<prefix>/model/`` (docs/protocol.md §4.3).

    Args:
        store: the bucket (or local store) to publish to.
        keys: the model's keys.
        checkpoint_dir: the local folder Coach saves into (``./checkpoint_sagemaker/agent``).
        frozen_model: default frozen graph source for ``publish``; None publishes no ``.pb``.
        frozen_dir: local folder for ``model_<n>.pb`` copies (``./frozen_models/agent``); None keeps none.
        model_dir: ``SM_MODEL_DIR``; ``<model_dir>/agent/model.pb`` is kept as the best (or newest)
            frozen graph. None skips it.
        keep: checkpoints kept in the bucket, the best included.
        tf_state_file: also PUT TF's ``model/checkpoint`` state file after the pointer: the
            "version file" that 2020-generation rollout workers read instead of
            ``.coach_checkpoint`` (docs/protocol.md §4.5). Today's workers never read it.
    """

    def __init__(self, store: ObjectStore, keys: ModelKeys, checkpoint_dir: str | Path, *,
                 frozen_model: FrozenModel = None, frozen_dir: str | Path | None = None,
                 model_dir: str | Path | None = None, keep: int = NUM_MODELS_TO_KEEP, tf_state_file: bool = False):
        self.store = store
        self.keys = keys
        self.checkpoint_dir = Path(checkpoint_dir)
        self.frozen_model = frozen_model
        self.frozen_dir = Path(frozen_dir) if frozen_dir is not None else None
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.keep = max(1, keep)
        self.tf_state_file = tf_state_file
        self._published: deque[tuple[str, tuple[str, ...]]] = deque()
        self._attempted: set[str] = set()

    def adopt(self, name: str, keys: list[str]) -> None:
        """Count an earlier run's checkpoint of this model as published here, for retention.

        A continued model keeps ``keep`` checkpoints in all, not ``keep`` per run (docs/reliability.md).
        """
        self._published.append((name, tuple(keys)))

    def _is_ours(self, name: str) -> bool:
        return any(published == name for published, _ in self._published)

    def publish(self, name: str | None = None, frozen_model: FrozenModel = None) -> str:
        """Upload one checkpoint and make it the current one; returns its name.

        ``name`` defaults to the local ``.coach_checkpoint``. If an upload fails, the files of
        this checkpoint that did reach the bucket are removed and the lock is released, so the
        previous pointer stays valid, and the StorageError is raised.
        """
        name = name or read_local_coach_checkpoint(self.checkpoint_dir)
        if not name:
            raise StorageError(f"no checkpoint to publish: {self.checkpoint_dir / keylib.COACH_CHECKPOINT_FILE} "
                               "is missing; save a checkpoint first")
        number = parse_checkpoint_number(name)
        if number is None:
            raise StorageError(f"checkpoint name {name!r} in {self.checkpoint_dir} has no number; expected <n>_Step-<s>.ckpt")
        files = checkpoint_files(self.checkpoint_dir, name)
        if not any(path.name.endswith(".index") for path in files):
            raise StorageError(f"checkpoint {name} has no .index file in {self.checkpoint_dir}; "
                               "the TF save did not complete")

        if not self._is_ours(name) and name not in self._attempted:
            refuse_overwrite(self.store, self.keys, name)  # never write over another run's checkpoint
        self._attempted.add(name)
        self.store.delete(self.keys.lock)
        self.store.put_bytes(self.keys.lock, b"")
        try:
            if not self._is_ours(name):  # a publish repeated after a failure past its pointer goes on from there
                uploaded = self._upload_files(name, files)
                log.info("Uploaded %d files for checkpoint %d", len(uploaded), number)
                self.store.put_bytes(self.keys.coach_checkpoint, name.encode("utf-8"))
                if self.tf_state_file:
                    # Relative paths, as TF writes them for a relative save dir (§4.5).
                    state = f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
                    self.store.put_bytes(self.keys.tf_checkpoint_state, state.encode("utf-8"))
                self._published.append((name, tuple(uploaded)))
            records = read_checkpoint_records(self.store, self.keys)
            frozen = self._frozen_bytes(frozen_model if frozen_model is not None else self.frozen_model, name)
            if frozen is not None:
                self._publish_frozen(number, frozen, records)
            self._retire_old_checkpoints(records)
        finally:
            self._unlock()
        return name

    def _upload_files(self, name: str, files: list[Path]) -> list[str]:
        uploaded: list[str] = []
        try:
            for path in files:
                key = self.keys.model_file(path.name)
                self.store.put_file(key, path)
                uploaded.append(key)
        except BaseException:
            # Half a checkpoint with a higher number than the current one must not stay: the rollout
            # falls back to the highest-numbered files when the pointer's are missing (§4.2 step 3).
            for key in uploaded:
                try:
                    self.store.delete(key)
                except StorageError:
                    log.warning("could not remove the partial upload %s", self.store.uri(key))
            raise
        return uploaded

    @staticmethod
    def _frozen_bytes(frozen_model: FrozenModel, name: str) -> bytes | None:
        if frozen_model is None:
            return None
        return frozen_model(name) if callable(frozen_model) else bytes(frozen_model)

    def _publish_frozen(self, number: int, frozen: bytes, records: CheckpointRecords) -> None:
        filename = frozen_model_filename(number)
        if self.frozen_dir is not None:
            atomic_write_bytes(self.frozen_dir / filename, frozen)
        key = self.keys.frozen_model(number)
        self.store.put_bytes(key, frozen)
        log.info("saved intermediate frozen graph: %s", key)
        best, last = records.best_number, records.last_number
        log.info("Best checkpoint number: %d, Last checkpoint number: %d", best, last)
        if self.model_dir is not None:
            self._refresh_model_dir(filename, frozen, best)
        if self.frozen_dir is not None:
            self._prune_local_frozen(best, last, keep={number})

    def _refresh_model_dir(self, newest: str, frozen: bytes, best: int) -> None:
        """``SM_MODEL_DIR/agent/model.pb`` is the best frozen graph, or the newest while none is best."""
        target = self.model_dir / "agent" / "model.pb"
        best_file = self.frozen_dir / frozen_model_filename(best) if self.frozen_dir and best >= 0 else None
        if best_file is not None and best_file.is_file():
            log.info("Copying the frozen checkpoint from %s to %s", best_file, target)
            atomic_write_bytes(target, best_file.read_bytes())
        else:
            log.info("Copying the frozen checkpoint from %s to %s", newest, target)
            atomic_write_bytes(target, frozen)

    def _prune_local_frozen(self, best: int, last: int, keep: set[int]) -> None:
        if last < 0:
            return
        for path in self.frozen_dir.glob("model_*.pb"):
            number = path.stem[len("model_"):]
            if number.isdigit() and int(number) < last and int(number) not in {best, last, *keep}:
                path.unlink(missing_ok=True)

    def _retire_old_checkpoints(self, records: CheckpointRecords) -> None:
        """Keep the ``keep`` newest checkpoints this process uploaded; the best one is always kept."""
        retired: set[int] = set()
        passes = len(self._published)
        while len(self._published) > self.keep and passes > 0:
            passes -= 1
            name, uploaded = self._published.popleft()
            if records.best and name == records.best:
                self._published.append((name, uploaded))  # the best takes one of the slots (§4.3 step 5)
                continue
            for key in uploaded:
                self.store.delete(key)
            number = parse_checkpoint_number(name)
            if number is not None:
                self.store.delete(self.keys.frozen_model(number))
                retired.add(number)
        if retired:
            log.info("Deleting the frozen models in s3 for the iterations: %s", retired)

    def _unlock(self) -> None:
        try:
            self.store.delete(self.keys.lock)
        except StorageError as exc:
            log.warning("could not remove %s: %s", self.store.uri(self.keys.lock), exc)


# -- reading checkpoints (rollout side, pretrained models) --------------------------------------


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
    _prune_local_checkpoints(Path(local_dir), name, keep)
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


def _prune_local_checkpoints(local_dir: Path, current: str, keep: int) -> None:
    """Keep the checkpoint just loaded and the ``keep - 1`` newest others."""
    numbers: dict[int, list[Path]] = {}
    for path in local_dir.iterdir():
        parsed = parse_checkpoint_file(path.name)
        if parsed and not path.name.startswith(current + "."):
            numbers.setdefault(parsed.number, []).append(path)
    for number in sorted(numbers)[:max(0, len(numbers) - (keep - 1))]:
        for path in numbers[number]:
            path.unlink(missing_ok=True)
