"""Stand-ins for modules rl_coach imports at module level but a headless trainer never uses.

Coach imports pygame, skimage, minio, kubernetes, gym, annoy and others at the top of modules a
trainer needs (the renderer, the filters, the data stores). Inside rl_coach modules a missing one
becomes a ``DeferredModule``: importing it and taking names from it works, and the first real use
(calling, instantiating, reading a value) raises an ``ImportError`` that names the package. Nobody
else's imports change: the stand-in is never put in ``sys.modules``.

``annoy`` is always deferred, even when installed, so that no code path of ours imports a compiled
extension that Windows users may have no compiler for (Coach's DND memory is its only user).
"""
from __future__ import annotations

import importlib
import logging
import types

logger = logging.getLogger(__name__)

OPTIONAL_ROOTS = frozenset({
    "annoy", "bokeh", "carla", "dm_control", "gym", "h5py", "kubernetes", "matplotlib", "minio",
    "mujoco_py", "mxnet", "pygame", "skimage", "tkinter",
})
"""Top-level packages whose absence rl_coach modules must survive until they use them."""

ALWAYS_DEFERRED_ROOTS = frozenset({"annoy"})
"""Packages deferred even when installed: they are imported on first use only."""


def _missing_message(dotted: str) -> str:
    root = dotted.partition(".")[0]
    return (f"{dotted} is needed here but '{root}' could not be imported; rl_coach imports it for a feature "
            f"the DeepRacer trainer does not use. Install '{root}' if you really need that feature.")


def _resolve(dotted: str):
    """Import ``a.b.c`` as a module, or as attribute ``c`` of module ``a.b``."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module_name, _, attribute = dotted.rpartition(".")
        if not module_name:
            raise
        parent = _resolve(module_name)
        try:
            return getattr(parent, attribute)
        except AttributeError as error:
            raise ImportError(f"cannot import name {attribute!r} from {module_name!r}") from error


class _DeferredMeta(type):
    """Metaclass of deferred names: a class, so ``isinstance``, subclassing and ``except`` stay legal."""

    def __call__(cls, *args, **kwargs):
        if cls.__dict__.get("_deferred_is_base", False):
            try:
                target = _resolve(cls._deferred_name)
            except ImportError as error:
                raise ImportError(_missing_message(cls._deferred_name)) from error
            return target(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    def __getattr__(cls, attribute: str):
        if attribute.startswith("__") or not cls.__dict__.get("_deferred_is_base", False):
            raise AttributeError(attribute)
        return deferred_name(f"{cls._deferred_name}.{attribute}")


def deferred_name(dotted: str) -> type:
    """A stand-in for ``dotted`` (a module or anything in it) that imports or fails on first use."""
    leaf = dotted.rpartition(".")[2]
    # Deriving from Exception keeps ``except minio.error.ResponseError:`` valid; nothing real is
    # ever an instance, so such a clause simply never matches.
    return _DeferredMeta(leaf, (Exception,), {"_deferred_name": dotted, "_deferred_is_base": True,
                                               "__module__": dotted.rpartition(".")[0] or dotted})


class DeferredModule(types.ModuleType):
    """What an rl_coach module gets for ``import x`` / ``from x import y`` when ``x`` is deferred."""

    def __init__(self, name: str):
        super().__init__(name, f"markov.compat stand-in for the optional module {name!r}")

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return deferred_name(f"{self.__name__}.{attribute}")


class PartialModule(types.ModuleType):
    """An installed optional module that lacks names rl_coach imports (``minio.error.ResponseError``)."""

    def __init__(self, module: types.ModuleType):
        super().__init__(module.__name__, module.__doc__)
        self._module = module

    def __getattr__(self, attribute: str):
        module = self.__dict__["_module"]
        try:
            return getattr(module, attribute)
        except AttributeError:
            if attribute.startswith("__"):
                raise
            logger.debug("rl_coach imports %s.%s, which the installed version lacks", module.__name__, attribute)
            return deferred_name(f"{module.__name__}.{attribute}")


def is_optional(dotted: str) -> bool:
    return dotted.partition(".")[0] in OPTIONAL_ROOTS


def is_always_deferred(dotted: str) -> bool:
    return dotted.partition(".")[0] in ALWAYS_DEFERRED_ROOTS
