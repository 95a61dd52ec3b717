"""Keep TensorFlow's native (C++) start-up log lines off a normal run's stderr; ``--debug`` keeps them.

Why this is more than ``TF_CPP_MIN_LOG_LEVEL``: TensorFlow 2.21's shared libraries log through
absl *while they load*, before absl's logging is initialised, and absl then writes everything to
fd 2 whatever TensorFlow's level says (``WARNING: All log messages before absl::InitializeLog()
...``, then oneDNN, CUDA-driver and CPU-feature notices, once per library). No setting reaches
that code, so the first ``import tensorflow`` of the process runs with fd 2 pointed at a
temporary file, and what it wrote is passed on without those records. ``TF_CPP_MIN_LOG_LEVEL=3``
(set before the import, honoured after it) then silences the rest, e.g. the ``failed call to
cuInit`` error every machine without a GPU logs when the first session starts.

The import is intercepted with a meta-path finder, so nothing imports TensorFlow earlier than
it would anyway (``deepracer-trainer reward-check --help`` still starts in a fraction of a
second), whichever module imports it first.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType

# The env var TensorFlow's C++ logging reads once, when it starts: 3 keeps FATAL only.
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "3"

# A native record: absl's "I0000 00:00:1796171884.070296    5375 port.cc:153] ..." header, absl's
# banner, or the second line of the CPU-feature notice (the one multi-line record TF logs at start).
NATIVE_RECORD = re.compile(
    r"([IWEF]\d{4} [\d:.]+ +\d+ [\w.\-]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags)"
)


def without_native_records(text: str) -> str:
    """``text`` without TensorFlow/absl native log records; everything else (Python warnings, errors) stays."""
    return "".join(line for line in text.splitlines(keepends=True) if not NATIVE_RECORD.match(line))


def quiet(debug: bool) -> None:
    """Silence TensorFlow's native logging for this process and its children, unless ``debug``.

    Call before TensorFlow is imported. With ``debug`` nothing changes, so every native line shows.
    A user's own ``TF_CPP_MIN_LOG_LEVEL`` wins over ours.
    """
    if debug:
        return
    os.environ.setdefault(LEVEL_ENV, QUIET_LEVEL)  # a child process (local's trainer, workers) inherits it
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Run the body with fd 2 captured; afterwards write what it wrote, less the native records, to stderr."""
    if sys.stderr is None:  # pythonw on Windows: no stderr to keep clean
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            rest = without_native_records(capture.read().decode("utf-8", errors="replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, once, and makes its loading run under :func:`native_stderr_filtered`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one import; and the lookup below must not find us again
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    """The real loader, with ``exec_module`` (where the native libraries load) under the fd-2 filter."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with native_stderr_filtered():
            self._loader.exec_module(module)

    def __getattr__(self, name: str):  # is_package, get_resource_reader, ...: the real loader's
        return getattr(self._loader, name)
