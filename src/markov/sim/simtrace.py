"""Simtrace CSV: one row per step, the layout deepracer-utils reads (LANDSCAPE.md §5.1).

The image's rollout worker writes these as ``training-simtrace/<n>-iteration.csv``; analysis
notebooks rename ``X -> x``, ``steer -> steering_angle``, ``throttle -> speed`` and
``all_wheels_on_track -> on_track`` themselves, so the header must stay exactly this.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

SIMTRACE_COLUMNS = (
    "episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp",
    "episode_status", "pause_duration",
)


class SimtraceWriter:
    """Writes simtrace rows to one CSV file (header first; the file is replaced)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(SIMTRACE_COLUMNS)

    def write(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow([row[c] for c in SIMTRACE_COLUMNS])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> "SimtraceWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
