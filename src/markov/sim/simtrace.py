"""Simtrace CSV: one row per step, the image's 19 columns that deepracer-utils reads (LANDSCAPE.md §5.1).

The image's rollout worker writes these as ``training-simtrace/<n>-iteration.csv`` (and
``evaluation-simtrace/0-iteration.csv``), columns in the order of its ``StepMetrics``; analysis
notebooks rename ``X -> x``, ``steer -> steering_angle``, ``throttle -> speed`` and
``all_wheels_on_track -> on_track`` themselves, so the header must stay exactly this.

The last two columns, as the image fills them:

- ``obstacle_crash_counter``: crashes into obstacles so far in the episode (reset when it
  ends). The built-in simulator has no obstacles, so it is 0 unless the row says otherwise.
- ``wall_clock``: the host's Unix time in seconds when the step was taken, next to ``tstamp``,
  the simulated time. deepracer-utils divides one by the other for the real-time factor and
  uses the gaps between iterations for "policy update time" (``analyze_timing``).
"""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Mapping

SIMTRACE_COLUMNS = (
    "episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp",
    "episode_status", "pause_duration", "obstacle_crash_counter", "wall_clock",
)


class SimtraceWriter:
    """Writes simtrace rows to one CSV file (header first; the file is replaced).

    ``write`` takes the row as a mapping of column to value; ``obstacle_crash_counter`` and
    ``wall_clock`` may be left out, and then get 0 and the current time.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(SIMTRACE_COLUMNS)

    def write(self, row: Mapping[str, Any]) -> None:
        filled = {"obstacle_crash_counter": 0, **row}
        if "wall_clock" not in filled:
            filled["wall_clock"] = round(time.time(), 3)
        self._writer.writerow([filled[c] for c in SIMTRACE_COLUMNS])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> "SimtraceWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
