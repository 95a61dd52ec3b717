"""The ``__import__`` that rl_coach modules run with, and the builtins that carry it.

Each rl_coach module loaded through ``coach_finder`` executes with its own ``__builtins__``
(a copy of the real builtins whose ``__import__`` is ``coach_import``), so every ``import``
statement in it, at module level or inside functions, is resolved here. Nothing is rewritten
and no other module's imports change.
"""
from __future__ import annotations

import builtins
import logging
import types

from markov.compat import optional_modules, removed_names
from markov.compat.tf1_namespace import coach_tensorflow

logger = logging.getLogger(__name__)

_real_import = builtins.__import__

_REDIRECTS: dict[str, types.ModuleType] = {
    "tensorflow": coach_tensorflow,
    "numpy": removed_names.numpy_for_coach,
    "collections": removed_names.collections_for_coach,
    "distutils.dir_util": removed_names.distutils_dir_util_for_coach,
}
"""Modules rl_coach gets a view of instead of the real one (``import x`` and ``from x import y``)."""


def coach_import(name: str, globals=None, locals=None, fromlist=(), level: int = 0):
    """``__import__`` for rl_coach modules: redirects, then the real import, then optional stand-ins."""
    if level == 0:
        redirected = _REDIRECTS.get(name)
        if redirected is not None and (fromlist or "." not in name):
            return redirected
        root = name.partition(".")[0]
        if not fromlist and name != root and root in _REDIRECTS:
            _real_import(name, globals, locals, fromlist, level)  # ``import numpy.random`` binds ``numpy``
            return _REDIRECTS[root]
        if optional_modules.is_always_deferred(name):
            return optional_modules.DeferredModule(name if fromlist else name.partition(".")[0])
    try:
        module = _real_import(name, globals, locals, fromlist, level)
    except ModuleNotFoundError as error:
        if level != 0 or not optional_modules.is_optional(name):
            raise
        logger.debug("rl_coach imports the absent optional module %s (%s); deferring", name, error)
        return optional_modules.DeferredModule(name if fromlist else name.partition(".")[0])
    if level == 0 and fromlist and optional_modules.is_optional(name) \
            and not all(hasattr(module, wanted) for wanted in fromlist if wanted != "*"):
        return optional_modules.PartialModule(module)
    return module


coach_builtins: dict = dict(builtins.__dict__, __import__=coach_import)
"""The ``__builtins__`` of every rl_coach module loaded through the bridge."""
