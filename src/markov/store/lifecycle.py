"""Start-up and shut-down objects of a training run: what the rollout workers wait for.

Trainer order (docs/protocol.md §4.2): model metadata, (preset), hyperparameters, ``ip/ip.json`` then
``ip/done``; after the initial checkpoint, ``.ready``; at exit ``.finished``. The rollout side
polls ``ip/done``, then ``.coach_checkpoint``, then ``.ready``; the waits are here too because our
own rollout worker and the end-to-end tests play that side.

Why a model with no pretrained checkpoint "would not start" in the 2020 Windows guide: the
simulator waits for ``model/.coach_checkpoint`` with its files and then for ``model/.ready``
(§4.2 rollout steps 3-4), and the 2020 trainer wrote neither (§4.5). Only a pretrained model copied
from the console brought those files along. Publishing the initial checkpoint 0 with its pointer,
and ``.ready`` after it, lets a fresh model start.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.atomic import atomic_write_bytes
from markov.store.backend import ObjectStore, StoreUnavailableError, get_bytes_or_none
from markov.store.keys import ModelKeys

log = logging.getLogger(__name__)

IP_DONE_CONTENT = b"done"


def clear_stale_sync_files(store: ObjectStore, keys: ModelKeys, *, keep_pointer: bool = False) -> list[str]:
    """Delete sync objects a previous run left in this prefix; returns the keys removed.

    A stale ``ip/done`` sends workers to an old Redis address, a stale ``.ready`` or ``.finished``
    breaks the next run (§4.2 "Consequences"), and a stale ``.coach_checkpoint`` with a higher
    number than our first checkpoint makes workers wait forever for a newer one. ``keep_pointer``
    keeps ``.coach_checkpoint`` (when the model in this prefix is continued, ``markov.store.resume``).
    """
    stale = [keys.ip_done, keys.lock, keys.ready, keys.finished]
    if not keep_pointer:
        stale.append(keys.coach_checkpoint)
    removed = [key for key in stale if store.exists(key)]
    for key in removed:
        store.delete(key)
    if removed:
        log.info("Removed sync files of an earlier run: %s", ", ".join(store.uri(key) for key in removed))
    return removed


def download_model_metadata(store: ObjectStore, key: str, local_path: str | Path) -> Path:
    """Fetch the user's model_metadata.json (``--model_metadata_s3_key``) to ``local_path``.

    Raises:
        StorageError: naming the key when it does not exist.
    """
    local = Path(local_path)
    try:
        store.download_file(key, local)
    except StoreUnavailableError:
        raise  # the store is away, the key may well be there: the caller waits (markov.store.outage)
    except StorageError as exc:
        raise StorageError(f"cannot get the model metadata {store.uri(key)}: {exc}; check --model_metadata_s3_key") from None
    return local


def publish_model_metadata(store: ObjectStore, keys: ModelKeys, local_path: str | Path) -> str:
    """PUT the user's model_metadata.json as ``model/model_metadata.json`` (start-up step 1)."""
    store.put_file(keys.model_metadata, local_path)
    log.info("[s3] Successfully uploaded model metadata to %s", store.uri(keys.model_metadata))
    return keys.model_metadata


def publish_hyperparameters(store: ObjectStore, keys: ModelKeys, echo_json: str) -> str:
    """PUT ``ip/hyperparameters.json``, the rollout workers' configuration (start-up step 3, §1.4)."""
    store.put_bytes(keys.hyperparameters, echo_json.encode("utf-8"))
    log.info("Uploaded hyperparameters.json to %s", store.uri(keys.hyperparameters))
    return keys.hyperparameters


def publish_ip_config(store: ObjectStore, keys: ModelKeys, ip: str) -> None:
    """PUT ``ip/ip.json`` and only then ``ip/done``, which the workers poll (start-up step 4)."""
    store.put_bytes(keys.ip_config, json.dumps({"IP": ip}).encode("utf-8"))
    store.put_bytes(keys.ip_done, IP_DONE_CONTENT)
    log.info("Uploaded IP address information to S3: %s", ip)


def signal_ready(store: ObjectStore, keys: ModelKeys, local_checkpoint_dir: str | Path | None = None) -> None:
    """``.ready`` under the lock: the trainer is subscribed to Redis (start-up step 8)."""
    store.delete(keys.lock)
    store.put_bytes(keys.lock, b"")
    try:
        store.put_bytes(keys.ready, b"")
    finally:
        store.delete(keys.lock)
    if local_checkpoint_dir is not None:
        atomic_write_bytes(Path(local_checkpoint_dir) / keylib.READY_FILE, b"")


def signal_finished(store: ObjectStore, keys: ModelKeys) -> None:
    """PUT ``.finished`` (no lock): the trainer is gone and the workers stop (step 10)."""
    store.put_bytes(keys.finished, b"")


def wait_for_ip(store: ObjectStore, keys: ModelKeys, *, timeout_s: float = 1200.0, poll_s: float = 1.0,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> str:
    """Rollout step 1: wait for ``ip/done``, then return the Redis address from ``ip/ip.json``.

    Raises:
        StorageError: after ``timeout_s`` or for an unreadable ``ip.json``, naming the key.
    """
    _wait_for(store, keys.ip_done, "the trainer's Redis address", timeout_s, poll_s, sleep, clock)
    data = get_bytes_or_none(store, keys.ip_config)
    try:
        return str(json.loads(data.decode("utf-8"))["IP"])
    except (AttributeError, ValueError, KeyError, TypeError):
        raise StorageError(f"{store.uri(keys.ip_config)} is missing or is not {{\"IP\": \"<address>\"}}") from None


def wait_for_trainer_ready(store: ObjectStore, keys: ModelKeys, *, timeout_s: float = 300.0, poll_s: float = 10.0,
                           sleep: Callable[[float], None] = time.sleep,
                           clock: Callable[[], float] = time.monotonic) -> None:
    """Rollout step 4: wait for ``.ready`` (the image tries 30 x 10 s)."""
    _wait_for(store, keys.ready, "the trainer to subscribe", timeout_s, poll_s, sleep, clock)


def _wait_for(store: ObjectStore, key: str, what: str, timeout_s: float, poll_s: float,
              sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
    deadline = clock() + timeout_s
    while not _exists_or_away(store, key):
        if clock() >= deadline:
            raise StorageError(f"gave up waiting for {what}: {store.uri(key)} did not appear within {timeout_s:.0f} s; "
                               "is the trainer running with this bucket and prefix?")
        log.info("Waiting for %s (%s)", what, store.uri(key))
        sleep(poll_s)


def _exists_or_away(store: ObjectStore, key: str) -> bool:
    """Whether ``key`` exists; a store that is away counts as "not yet", since the caller waits anyway."""
    try:
        return store.exists(key)
    except StoreUnavailableError as exc:
        log.warning("Waiting for %s: %s", store.uri(key), exc)
        return False
