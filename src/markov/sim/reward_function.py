"""The user's ``reward_function(params)``: loading it from a file and calling it safely.

The image stops a run when the reward function raises, or returns NaN, infinity or a value
outside [-1e5, 1e5] (``_judge_action_at_run_phase``). Here the same cases stop with one line that
names the file and the line at fault, so the user can fix it without reading a traceback; the
params that broke it travel on the error (and go to the debug log).
"""
from __future__ import annotations

import importlib.util
import logging
import math
import numbers
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from markov.errors import ConfigError

log = logging.getLogger(__name__)

REWARD_LIMIT = 1e5


class RewardFunctionError(ConfigError):
    """The reward function failed on a set of params.

    Attributes:
        params: the params dict it was called with.
        path: the reward function file (None for a callable).
        line: the line in that file where it failed or returned, if known.
    """

    def __init__(self, message: str, params: Mapping[str, Any] | None = None,
                 path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.params = dict(params or {})
        self.path = path
        self.line = line


class RewardFunction:
    """A callable wrapper that checks what the user's function returns.

    Args:
        func: ``reward_function(params) -> float``.
        source: the file it came from, for messages (optional).
    """

    def __init__(self, func: Callable[[dict], Any], source: str | None = None) -> None:
        self.func = func
        code = getattr(func, "__code__", None)
        self.source = source or (code.co_filename if code else getattr(func, "__name__", repr(func)))

    def __call__(self, params: dict) -> float:
        try:
            value = self.func(params)
        except Exception as exc:  # any bug in user code becomes one actionable line
            line = self._line_in_source(exc.__traceback__)
            detail = f"{type(exc).__name__}: {exc}"
            raise self._error(f"raised {detail}", params, line) from exc
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._error(f"returned {value!r} ({type(value).__name__}); it must return a number",
                              params, self._return_line(params))
        reward = float(value)
        if not math.isfinite(reward):
            raise self._error(f"returned {reward}; it must return a finite number", params, self._return_line(params))
        if not -REWARD_LIMIT <= reward <= REWARD_LIMIT:
            raise self._error(f"returned {reward}, outside the image's allowed range [-1e5, 1e5]",
                              params, self._return_line(params))
        return reward

    def _error(self, problem: str, params: dict, line: int | None) -> RewardFunctionError:
        where = f"{self.source}:{line}" if line else self.source
        brief = ", ".join(f"{k}={_short(params.get(k))}" for k in _KEYS_IN_MESSAGE if k in params)
        log.debug("reward function params at failure: %r", params)
        return RewardFunctionError(f"{where}: reward_function {problem} (params: {brief})",
                                   params=params, path=self.source, line=line)

    def _line_in_source(self, tb) -> int | None:
        line = None
        for frame, lineno in traceback.walk_tb(tb):
            if frame.f_code.co_filename == self.source:
                line = lineno
        return line

    def _return_line(self, params: dict) -> int | None:
        """Call once more under a profiler to learn which line returned (only on failure)."""
        code = getattr(self.func, "__code__", None)
        if code is None:
            return None
        seen: list[int] = []

        def profiler(frame, event, arg):
            if event == "return" and frame.f_code is code:
                seen.append(frame.f_lineno)

        previous = sys.getprofile()
        sys.setprofile(profiler)
        try:
            self.func(dict(params))
        except Exception:
            pass
        finally:
            sys.setprofile(previous)
        return seen[-1] if seen else code.co_firstlineno


_KEYS_IN_MESSAGE = ("steps", "x", "y", "heading", "progress", "speed", "steering_angle",
                    "distance_from_center", "all_wheels_on_track", "closest_waypoints")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def load_reward_function(source: str | Path | Callable[[dict], Any] | None = None) -> RewardFunction:
    """A reward function from a callable or from a ``.py`` file defining ``reward_function``.

    ``None`` gives the package's default (follow the centre line).

    Raises:
        ConfigError: naming the file, when it is missing, does not compile or import, or does
            not define ``reward_function``.
    """
    if isinstance(source, RewardFunction):
        return source
    if callable(source):
        return RewardFunction(source)
    if source is None:
        from markov.defaults import REWARD_FUNCTION
        source = REWARD_FUNCTION
    path = Path(source).resolve()
    if not path.is_file():
        raise ConfigError(f"{source}: reward function file not found")
    name = f"_deepracer_reward_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: syntax error in the reward function: {exc.msg}") from None
    except Exception as exc:
        line = None
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == str(path):
                line = lineno
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: importing the reward function failed: {type(exc).__name__}: {exc}") from None
    func = getattr(module, "reward_function", None)
    if not callable(func):
        raise ConfigError(f"{path}: defines no function 'reward_function(params)'")
    return RewardFunction(func, source=str(path))
