"""Riding out a store that stops answering: MinIO restarting, a laptop asleep, a dropped Wi-Fi.

botocore's standard retry mode retries each request for some seconds (``markov.store.s3``). An
outage that lasts minutes is waited for here, one level up, around whole protocol steps (a
checkpoint publish, a start-up object), because only a whole step can be repeated safely: a
publish that failed half-way is repeated from its first file, and the pointer is only ever
written after all of a checkpoint's files (docs/protocol.md §4.3). See docs/reliability.md.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Callable, ContextManager, TypeVar

from markov.errors import StorageError
from markov.store.backend import StoreUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")

LOG_EVERY_S = 30.0
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 15.0  # how soon a returned store is noticed


def ride_out(action: Callable[[], T], what: str, timeout_s: float, *, setting: str,
             interruptible: Callable[[], ContextManager[None]] = contextlib.nullcontext,
             sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> T:
    """Run ``action`` until it stops raising ``StoreUnavailableError``, for at most ``timeout_s`` seconds.

    Args:
        action: one whole, repeatable protocol step.
        what: the step, for the log ("publishing checkpoint 7_Step-700.ckpt").
        timeout_s: how long the store may stay away.
        setting: the flag that sets ``timeout_s``, named when giving up.
        interruptible: a context in which SIGTERM/Ctrl-C may end the wait (``GracefulStop.interruptible``).

    Returns:
        What ``action`` returned.

    Raises:
        StorageError: one line, when the store is still away after ``timeout_s``; other
            storage errors (a missing bucket, refused credentials) at once.
    """
    deadline = clock() + timeout_s
    delay = FIRST_DELAY_S
    last_log: float | None = None
    started = clock()
    while True:
        try:
            result = action()
        except StoreUnavailableError as exc:
            now = clock()
            if now >= deadline:
                raise StorageError(f"gave up {what}: the store did not answer for {now - started:.0f} s "
                                   f"({exc}); raise {setting} to wait longer") from None
            if last_log is None or now - last_log >= LOG_EVERY_S:
                log.warning("The store is not answering (%s); still %s, retrying for another %.0f s", exc, what,
                            deadline - now)
                last_log = now
            with interruptible():
                sleep(max(0.0, min(delay, deadline - now)))
            delay = min(delay * 2, MAX_DELAY_S)
            continue
        if last_log is not None:
            log.info("The store is back after %.0f s; done %s", clock() - started, what)
        return result
