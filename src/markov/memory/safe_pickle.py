"""A restricted unpickler for Redis payloads: episodes decode, anything else is refused unexecuted.

The wire format is pickle (docs/protocol.md §5.3), and pickle runs whatever callable a payload names.
Anyone who can publish to the trainer's Redis (it listens on all interfaces, §5.1) could otherwise
run code in the trainer. So only the globals that episodes really contain are resolved
(§5.3, §9): Coach's ``Episode``, ``Transition`` and ``LazyStack``, numpy's array, dtype and scalar
reconstructors, ``collections.deque`` and a few plain builtins. Every other global is refused
before anything is called.
"""
from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import collections
import functools
import importlib
import io
import pickle
import sys
from typing import Any, Callable

import numpy as np

from markov.errors import ProtocolError

# Coach's LazyStack lives in a package whose __init__ imports every observation filter, and one of
# them needs scikit-image. We use the real class only when Coach has already imported it.
COACH_LAZY_STACK_MODULE = "rl_coach.filters.observation.observation_stacking_filter"


class UnsafePayloadError(ProtocolError):
    """The payload names a global outside the whitelist; it was not executed."""


class LazyStack:
    """Stands in for Coach's ``LazyStack`` (attributes ``history``, a deque of frames, and ``axis``).

    The frames stay as they arrived (uint8 for cameras): stacking happens only when the network
    input converts the observation with ``np.array``.
    """

    def __init__(self, history: Any = (), axis: int | None = None) -> None:
        self.history = history
        self.axis = axis

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = np.stack(self.history, axis=-1 if self.axis is None else self.axis)
        return array if dtype is None else array.astype(dtype, copy=False)

    def __reduce__(self) -> Any:
        # Re-pickled (by a sample collector, say) as the plain array it stands for: the real
        # class's module path may not import on the reading side either.
        return np.asarray(self).__reduce__()


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: only the latin-1 round trip."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePayloadError(f"_codecs.encode with encoding {encoding!r} is not allowed in an episode")
    return codecs.encode(text, encoding)


def _numpy_core(submodule: str, name: str) -> Any:
    # Images pickle with numpy 1.x names (numpy.core.*); numpy 2 keeps the objects under numpy._core.
    core = getattr(np, "_core", None)
    if core is not None and hasattr(getattr(core, submodule, None), name):
        return getattr(getattr(core, submodule), name)
    return getattr(importlib.import_module(f"numpy.core.{submodule}"), name)


def _allowed_globals() -> dict[str, Callable[[], Any]]:
    """``module.name`` -> a resolver, so nothing is imported before a payload asks for it."""
    allowed: dict[str, Callable[[], Any]] = {
        "rl_coach.core_types.Episode": lambda: _coach_core_types().Episode,
        "rl_coach.core_types.Transition": lambda: _coach_core_types().Transition,
        f"{COACH_LAZY_STACK_MODULE}.LazyStack": _lazy_stack_class,
        "collections.deque": lambda: collections.deque,
        "collections.OrderedDict": lambda: collections.OrderedDict,
        "numpy.ndarray": lambda: np.ndarray,
        "numpy.dtype": lambda: np.dtype,
        "_codecs.encode": lambda: _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        for submodule, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                                # protocol-5 pickles of arrays (the default from Python 3.14 on)
                                ("numeric", "_frombuffer")):
            allowed[f"{package}.{submodule}.{name}"] = functools.partial(_numpy_core, submodule, name)
    for name in ("bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list",
                 "range", "set", "slice", "str", "tuple"):
        allowed[f"builtins.{name}"] = _constant(getattr(builtins, name))
    return allowed


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _coach_core_types() -> Any:
    # rl_coach.core_types imports numpy only, never TensorFlow (COACH_ON_TF2.md).
    import rl_coach.core_types

    return rl_coach.core_types


def _lazy_stack_class() -> type:
    module = sys.modules.get(COACH_LAZY_STACK_MODULE)
    real = getattr(module, "LazyStack", None) if module is not None else None
    return real if real is not None else LazyStack


ALLOWED_GLOBALS = _allowed_globals()


def preload() -> None:
    """Import Coach's ``core_types`` now, so that the first episode does not pay for it mid-fetch."""
    _coach_core_types()


class EpisodeUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`; refuses persistent ids and everything else."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles may name Python 2 modules (``__builtin__.set``); map them as pickle does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        resolver = ALLOWED_GLOBALS.get(f"{module}.{name}")
        if resolver is None:
            raise UnsafePayloadError(f"global {module}.{name} is not allowed in an episode payload")
        return resolver()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePayloadError("persistent ids are not allowed in an episode payload")


def safe_loads(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`EpisodeUnpickler`.

    Raises:
        UnsafePayloadError: the payload names a global outside the whitelist.
        pickle.UnpicklingError, EOFError, ValueError, TypeError: a corrupt payload.
    """
    # BytesIO shares a bytes object's memory but copies anything else (a received bytearray).
    source = io.BytesIO(data) if isinstance(data, bytes) else _BufferReader(data)
    return EpisodeUnpickler(source).load()


class _BufferReader:
    """The ``read``/``readline`` the unpickler needs, over a buffer it must not copy whole."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        start = self._pos
        stop = len(self._view) if size < 0 else min(start + size, len(self._view))
        self._pos = stop
        return self._view[start:stop].tobytes()

    def readline(self) -> bytes:
        stop = bytes(self._view[self._pos:self._pos + 4096]).find(b"\n")
        return self.read(-1 if stop < 0 else stop + 1)
