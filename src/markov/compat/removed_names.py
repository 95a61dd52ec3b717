"""Names rl_coach 1.0.1 still uses that newer numpy and Python removed, for rl_coach modules only.

- numpy 1.24/2.0 removed ``np.bool``-style aliases (``np.int``, ``np.float``, ``np.bool8``, ...).
- Python 3.10 removed ``collections.Mapping`` and the other ABC aliases (``rl_coach.utils``).
- Python 3.12 removed ``distutils``; ``graph_manager`` takes ``copy_tree``/``remove_tree`` from it.

Each is a read-through view of the real module with the old names added; the real modules are
never changed, so code outside rl_coach keeps seeing today's numpy and standard library.
"""
from __future__ import annotations

import builtins
import collections
import collections.abc
import os
import shutil
import types

import numpy


class _ViewWithExtras(types.ModuleType):
    """The real module's names first, then ``extras`` for names it no longer has."""

    def __init__(self, module: types.ModuleType, extras: dict):
        super().__init__(module.__name__, module.__doc__)
        self._module = module
        self._extras = extras

    def __getattr__(self, attribute: str):
        try:
            return getattr(self.__dict__["_module"], attribute)
        except AttributeError:
            extras = self.__dict__["_extras"]
            if attribute in extras:
                return extras[attribute]
            raise


NUMPY_REMOVED_ALIASES = {
    "bool": builtins.bool, "int": builtins.int, "float": builtins.float, "complex": builtins.complex,
    "object": builtins.object, "str": builtins.str, "long": builtins.int, "unicode": builtins.str,
    "bool8": numpy.bool_, "int0": numpy.intp, "uint0": numpy.uintp, "float_": numpy.float64,
    "complex_": numpy.complex128, "string_": numpy.bytes_, "unicode_": numpy.str_, "object0": numpy.object_,
    "NaN": numpy.nan, "NAN": numpy.nan, "Inf": numpy.inf, "Infinity": numpy.inf, "infty": numpy.inf,
    "product": numpy.prod, "cumproduct": numpy.cumprod, "sometrue": numpy.any, "alltrue": numpy.all,
}
"""What numpy < 1.24 answered for names it has since removed (only used where numpy lacks them)."""

numpy_for_coach = _ViewWithExtras(numpy, NUMPY_REMOVED_ALIASES)

collections_for_coach = _ViewWithExtras(collections, {
    name: getattr(collections.abc, name) for name in collections.abc.__all__})


def copy_tree(src: str, dst: str, preserve_mode: int = 1, preserve_times: int = 1, preserve_symlinks: int = 0,
              update: int = 0, verbose: int = 1, dry_run: int = 0) -> list[str]:
    """``distutils.dir_util.copy_tree``: copy into ``dst`` (which may exist) and list the files written."""
    if not os.path.isdir(src):
        raise OSError(f"cannot copy tree '{src}': not a directory")
    written: list[str] = []

    def copy_and_record(source: str, target: str) -> str:
        written.append(target)
        return shutil.copy2(source, target) if preserve_times else shutil.copy(source, target)

    if not dry_run:
        shutil.copytree(src, dst, symlinks=bool(preserve_symlinks), dirs_exist_ok=True,
                        copy_function=copy_and_record)
    return written


def remove_tree(directory: str, verbose: int = 1, dry_run: int = 0) -> None:
    """``distutils.dir_util.remove_tree``."""
    if not dry_run:
        shutil.rmtree(directory)


distutils_dir_util_for_coach = types.ModuleType(
    "distutils.dir_util", "markov.compat stand-in for distutils.dir_util (removed in Python 3.12)")
distutils_dir_util_for_coach.copy_tree = copy_tree
distutils_dir_util_for_coach.remove_tree = remove_tree
