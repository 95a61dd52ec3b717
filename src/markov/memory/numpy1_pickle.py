"""Pickles that numpy 1.x can read: numpy's globals under their 1.x names (``numpy.core``).

numpy 2 moved its internals to ``numpy._core``, and a pickle names the module a function lives
in: an array pickled by numpy 2 refers to ``numpy._core.multiarray._reconstruct``, which numpy
before 1.26 cannot import. The 2020-generation trainers run numpy 1.1x (docs/protocol.md §5.3
notes the image's own pickles use ``numpy.core``), so a rollout serving them writes the 1.x
names, which numpy 2 still resolves through its ``numpy.core`` shim (and our restricted
unpickler accepts, ``markov.memory.safe_pickle``).

The C pickler cannot be told another module name for a global, so this uses the standard
library's Python pickler with one method replaced. It is about four times slower (about 0.1 s
for a 300-step camera episode against 0.02 s), so it serves only ``--redis_protocol 2020``.
"""
from __future__ import annotations

import io
import pickle
from typing import Any

NUMPY_2_CORE = "numpy._core"
NUMPY_1_CORE = "numpy.core"


class Numpy1Pickler(pickle._Pickler):  # the Python implementation: its save_global can be replaced
    """A pickler that writes ``numpy._core.*`` globals as ``numpy.core.*`` (protocol 2 or higher)."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = getattr(obj, "__module__", None) or ""
        if self.proto >= 4 and (module == NUMPY_2_CORE or module.startswith(NUMPY_2_CORE + ".")):
            self.save(NUMPY_1_CORE + module[len(NUMPY_2_CORE):])
            self.save(name or obj.__qualname__)
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
            return
        if 2 <= self.proto < 4 and (module == NUMPY_2_CORE or module.startswith(NUMPY_2_CORE + ".")):
            line = f"{NUMPY_1_CORE + module[len(NUMPY_2_CORE):]}\n{name or obj.__qualname__}\n"
            self.write(pickle.GLOBAL + line.encode("utf-8"))
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch = dict(pickle._Pickler.dispatch)


def dumps(obj: Any, protocol: int = 4) -> bytes:
    """``pickle.dumps`` with numpy 1.x global names."""
    buffer = io.BytesIO()
    Numpy1Pickler(buffer, protocol=protocol).dump(obj)
    return buffer.getvalue()
