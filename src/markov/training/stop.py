"""Graceful stop on SIGTERM / Ctrl-C / CTRL_BREAK: finish the step, save, publish, exit 0.

The first signal asks the loop to stop. While the loop only *waits* (for episodes, for S3) there
is nothing to finish, so the wait is interrupted at once with :class:`StopRequested`; during a
training step or a publish the flag is checked when the step ends, so no checkpoint is torn.
A second signal exits at once (docs/protocol.md §7.3 describes the image's DoorMan, which only sets a
flag and so cannot stop a trainer blocked in a fetch).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger(__name__)


class StopRequested(Exception):
    """Raised inside an interruptible wait when a stop signal arrives."""


class GracefulStop:
    """Installs the signal handlers (main thread only) and tracks the stop request."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._interruptible = False
        self._previous: dict[int, object] = {}

    def install(self) -> "GracefulStop":
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
            signum = getattr(signal, name, None)
            if signum is not None:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            log.warning("Received %s again: exiting now without saving", name)
            os._exit(130)
        self.requested = True
        self.signal_name = name
        log.info("Received %s. Checkpointing before exiting.", name)
        if self._interruptible:
            raise StopRequested(name)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """A block (a wait) that a stop signal may abort with StopRequested."""
        if self.requested:
            raise StopRequested(self.signal_name or "stop")
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
