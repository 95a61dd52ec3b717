"""The import hook: a meta-path finder that loads ``rl_coach.*`` with the bridge's builtins.

Sources are loaded from where they are installed, unmodified (their ``.pyc`` cache is the normal
one). The only differences from a plain import are the module's ``__builtins__`` (see
``coach_imports``) and, for a few modules, a fix applied after execution (``coach_fixes``).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys
import types
from typing import Optional, Sequence

from markov.compat.coach_fixes import apply_fixes
from markov.compat.coach_imports import coach_builtins

logger = logging.getLogger(__name__)

COACH_PACKAGE = "rl_coach"


class CoachSourceLoader(importlib.machinery.SourceFileLoader):
    """Executes an rl_coach module with the bridge's ``__builtins__``, then applies its fixes."""

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = coach_builtins
        super().exec_module(module)
        apply_fixes(module)


class CoachFinder(importlib.abc.MetaPathFinder):
    """Finds ``rl_coach`` modules as the path finder would and hands them to ``CoachSourceLoader``."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target=None):
        if fullname != COACH_PACKAGE and not fullname.startswith(COACH_PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = CoachSourceLoader(fullname, spec.origin)
        return spec

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {COACH_PACKAGE}.* (markov.compat)>"


def find_installed(finder: type = CoachFinder) -> Optional[importlib.abc.MetaPathFinder]:
    return next((entry for entry in sys.meta_path if isinstance(entry, finder)), None)


def coach_package_dir() -> Optional[str]:
    """The directory of the rl_coach package that would be imported, without importing it."""
    spec = importlib.machinery.PathFinder.find_spec(COACH_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def coach_needs_bridge(package_dir: Optional[str]) -> bool:
    """Whether this rl_coach still calls TF1-only APIs (upstream 1.0.1) or is already TF2-ready (a fork).

    rl_coach's TensorFlow components name ``tf.contrib`` wherever they need TF1; a fork that runs on
    TF2 has removed every use, because ``tf.contrib`` does not exist there.
    """
    if package_dir is None:
        return False
    components = os.path.join(package_dir, "architectures", "tensorflow_components")
    for directory, _, files in os.walk(components):
        for file_name in files:
            if not file_name.endswith(".py"):
                continue
            with open(os.path.join(directory, file_name), encoding="utf-8", errors="replace") as source:
                if "tf.contrib." in source.read():
                    return True
    return False


def loaded_without_bridge() -> list[str]:
    """rl_coach modules imported before the bridge that hold the real TensorFlow (they will not work)."""
    tensorflow = sys.modules.get("tensorflow")
    return sorted(name for name, module in list(sys.modules.items())
                  if (name == COACH_PACKAGE or name.startswith(COACH_PACKAGE + "."))
                  and module is not None and tensorflow is not None
                  and any(value is tensorflow for value in vars(module).values()))
