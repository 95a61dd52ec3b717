"""Behaviour fixes applied to rl_coach classes right after their module is loaded.

Each fix wraps Coach's own method (no Coach code is copied) and is keyed by the module that
defines the class, so it runs once, when ``coach_finder`` executes that module.
"""
from __future__ import annotations

import functools
import logging
import threading
import types
from typing import Callable

logger = logging.getLogger(__name__)


def _retry_as_object_column(method: Callable, signal_argument: int) -> Callable:
    """Make a logger signal setter store into an object column when the column's dtype refuses the value.

    Coach's logger writes ``''`` and floats into the same DataFrame column; pandas 3 refuses to
    upcast a float (or string) column on assignment, where pandas < 3 silently made it ``object``.
    """

    @functools.wraps(method)
    def setter(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (TypeError, ValueError):
            signal_name = args[signal_argument] if len(args) > signal_argument else kwargs.get("signal_name")
            if signal_name not in self.data.columns or self.data[signal_name].dtype == object:
                raise
            self.data[signal_name] = self.data[signal_name].astype(object)
            return method(self, *args, **kwargs)

    return setter


def _fix_logger(module: types.ModuleType) -> None:
    base = module.BaseLogger
    base.create_signal_value = _retry_as_object_column(base.create_signal_value, 0)
    base.change_signal_value = _retry_as_object_column(base.change_signal_value, 0)


def _fix_renderer(module: types.ModuleType) -> None:
    """Let a Renderer be built without pygame: every Coach Environment builds one, even headless."""
    original_init = module.Renderer.__init__

    @functools.wraps(original_init)
    def init(self, *args, **kwargs):
        try:
            original_init(self, *args, **kwargs)
        except ImportError as error:
            logger.debug("pygame unavailable, Coach's renderer is disabled: %s", error)
            # Drawing still fails, clearly, through the pygame stand-in.
            self.size, self.screen, self.clock, self.display = (1, 1), None, None, module.pygame.display
            self.fps, self.pressed_keys, self.is_open = 30, [], False

    module.Renderer.__init__ = init


def _fix_reader_writer_lock(module: types.ModuleType) -> None:
    """Guard Coach's replay memories with thread locks instead of ``multiprocessing.Manager()`` locks.

    Each Manager starts a server process; Coach makes two per replay memory, so every trainer and
    rollout worker ran two extra ~300 MB processes, which outlived it when it was killed (a second
    Ctrl-C, SIGKILL). Our memories are shared between threads of one process only, where a
    ``threading.Lock`` gives the same exclusion.
    """
    original_init = module.ReaderWriterLock.__init__

    @functools.wraps(original_init)
    def init(self):
        self.num_readers_lock = threading.Lock()
        self.writers_lock = threading.Lock()
        self.num_readers = 0
        self.now_writing = False

    module.ReaderWriterLock.__init__ = init


MODULE_FIXES: dict[str, Callable[[types.ModuleType], None]] = {
    "rl_coach.logger": _fix_logger,
    "rl_coach.renderer": _fix_renderer,
    "rl_coach.utils": _fix_reader_writer_lock,
}


def apply_fixes(module: types.ModuleType) -> None:
    fix = MODULE_FIXES.get(module.__name__)
    if fix is not None:
        logger.debug("applying markov.compat fix to %s", module.__name__)
        fix(module)
