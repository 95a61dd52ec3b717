"""The trainer's checkpoint publish: upload in the safe order, frozen models, and retention.

Wire rules this module keeps (docs/protocol.md §4.3, §6):
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
from collections import deque
from pathlib import Path
from typing import Callable, Optional, Union

from markov.checkpoint_names import frozen_model_filename, parse_checkpoint_number, parse_frozen_model_number
from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.atomic import atomic_write_bytes
from markov.store.backend import ObjectStore
from markov.store.checkpoint_dir import checkpoint_files, read_local_coach_checkpoint
from markov.store.keys import ModelKeys
from markov.store.records import CheckpointRecords, read_checkpoint_records
from markov.store.resume import refuse_overwrite

log = logging.getLogger(__name__)

NUM_MODELS_TO_KEEP = 4
# The frozen graph of the checkpoint being published: bytes, or a function of the checkpoint name.
FrozenModel = Optional[Union[bytes, Callable[[str], bytes]]]


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
            self._refresh_model_dir(self.model_dir, filename, frozen, best)
        if self.frozen_dir is not None:
            self._prune_local_frozen(self.frozen_dir, best, last, keep={number})

    def _refresh_model_dir(self, model_dir: Path, newest: str, frozen: bytes, best: int) -> None:
        """``SM_MODEL_DIR/agent/model.pb`` is the best frozen graph, or the newest while none is best."""
        target = model_dir / "agent" / "model.pb"
        best_file = self.frozen_dir / frozen_model_filename(best) if self.frozen_dir and best >= 0 else None
        if best_file is not None and best_file.is_file():
            log.info("Copying the frozen checkpoint from %s to %s", best_file, target)
            atomic_write_bytes(target, best_file.read_bytes())
        else:
            log.info("Copying the frozen checkpoint from %s to %s", newest, target)
            atomic_write_bytes(target, frozen)

    def _prune_local_frozen(self, frozen_dir: Path, best: int, last: int, keep: set[int]) -> None:
        if last < 0:
            return
        for path in frozen_dir.iterdir():
            number = parse_frozen_model_number(path.name)
            if number is not None and number < last and number not in {best, last, *keep}:
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
