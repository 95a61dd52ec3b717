"""What ``local`` shows while it trains: a bar per iteration, a live line, and the per-iteration history.

The figures come from the children's JSON lines: the rollouts' ``episode`` events and the
trainer's ``iteration`` reports (``--log-format json``). The history is appended to
``progress.jsonl`` so that a resumed run plots the whole model's curve.

In a terminal the live line is drawn by rich, which redraws it with the console API on a legacy
Windows console (no VT escape codes there) and with ANSI codes elsewhere; in a pipe or a file only
the per-iteration lines are written, as plain text.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import fmean
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

log = logging.getLogger(__name__)

BAR_WIDTH = 20


@dataclass
class IterationPoint:
    """One training iteration of the curve."""

    iteration: int
    mean_reward: float | None
    mean_progress: float | None
    laps: int
    episodes: int
    checkpoint: str | None


def read_history(path: Path) -> list[IterationPoint]:
    """The points of earlier runs in this folder (unreadable lines are skipped)."""
    points = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                points.append(IterationPoint(**json.loads(line)))
            except (ValueError, TypeError):
                continue
    return points


class ProgressView:
    """Turns child events into the bar, the live line and the history."""

    def __init__(self, episodes_per_iteration: int, history_path: Path, stream: TextIO, live: bool) -> None:
        self.episodes_per_iteration = max(1, episodes_per_iteration)
        self.history_path = history_path
        self.history = read_history(history_path)
        self.offset = self.history[-1].iteration if self.history else 0
        self.stream = stream
        self.live = live
        self._episodes: list[dict] = []
        self.total_laps = sum(point.laps for point in self.history)
        self._bar: Progress | None = None
        self._task = TaskID(0)
        if live:
            self._bar = Progress(TextColumn("iteration {task.fields[iteration]}"), BarColumn(bar_width=BAR_WIDTH),
                                 MofNCompleteColumn(), TextColumn("episodes{task.fields[status]}"),
                                 console=Console(file=stream, highlight=False, soft_wrap=True), auto_refresh=False)
            self._task = self._bar.add_task("iteration", total=self.episodes_per_iteration,
                                            iteration=self._next_iteration(), status="")
            self._bar.start()

    def on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "episode":
            self._on_episode(event)
        elif kind == "iteration":
            self._on_iteration(event)

    def _on_episode(self, event: dict) -> None:
        self._episodes.append(event)
        if event.get("status") == "lap_complete":
            self.total_laps += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self._episodes_done(), iteration=self._next_iteration(),
                             status="".join(f" | {part}" for part in self._status()))
            self._bar.refresh()

    def live_line(self) -> str:
        """The live line as plain text (what the bar shows, for logs and tests)."""
        filled = BAR_WIDTH * self._episodes_done() // self.episodes_per_iteration
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        head = f"iteration {self._next_iteration()} [{bar}] {self._episodes_done()}/{self.episodes_per_iteration} episodes"
        return " | ".join([head, *self._status()])

    def _episodes_done(self) -> int:
        return min(len(self._episodes), self.episodes_per_iteration)

    def _next_iteration(self) -> int:
        return self.offset + len(self.history_since_start()) + 1

    def _status(self) -> list[str]:
        parts = []
        if self._episodes:
            last = self._episodes[-1]
            parts.append(f"reward {last.get('reward', 0.0):.1f}")
            parts.append(f"progress {last.get('progress', 0.0):.1f}%")
        parts.append(f"laps {self.total_laps}")
        return parts

    def history_since_start(self) -> list[IterationPoint]:
        return [point for point in self.history if point.iteration > self.offset]

    def _on_iteration(self, event: dict) -> None:
        laps = sum(1 for e in self._episodes if e.get("status") == "lap_complete")
        progress = event.get("mean_progress")
        if progress is None and self._episodes:
            progress = fmean(e.get("progress", 0.0) for e in self._episodes)
        point = IterationPoint(iteration=self.offset + int(event.get("iteration", 0)),
                               mean_reward=event.get("mean_reward"), mean_progress=progress, laps=laps,
                               episodes=int(event.get("episodes", len(self._episodes))),
                               checkpoint=event.get("checkpoint"))
        self.history.append(point)
        self._episodes = []
        with self.history_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(point)) + "\n")
        reward = "n/a" if point.mean_reward is None else f"{point.mean_reward:.1f}"
        progress_text = "n/a" if point.mean_progress is None else f"{point.mean_progress:.1f}%"
        line = (f"iteration {point.iteration}: mean reward {reward}, mean progress {progress_text}, "
                f"laps {point.laps}/{point.episodes}, checkpoint {point.checkpoint}")
        if self._bar is not None:
            self._bar.update(self._task, completed=0, iteration=self._next_iteration(), status="")
            self._bar.console.print(line, markup=False)  # above the bar, which now shows the next iteration
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        """A line of the supervisor's, above the live line when there is one."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
