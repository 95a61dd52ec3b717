"""``progress.png``: mean reward and mean progress per iteration, the curve a user checks first."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from markov.local.progress import IterationPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def write_progress_plot(points: Sequence[IterationPoint], path: Path) -> Path:
    """Draw reward (top) and progress (bottom) per iteration into a PNG."""
    import matplotlib.pyplot as plt

    figure = progress_figure(points)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def progress_figure(points: Sequence[IterationPoint]) -> "Figure":
    """The figure of :func:`write_progress_plot`; the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    iterations = [p.iteration for p in points]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    top.plot(iterations, [_nan(p.mean_reward) for p in points], marker="o", color="tab:blue")
    top.set_ylabel("mean reward per episode")
    top.grid(alpha=0.3)
    bottom.plot(iterations, [_nan(p.mean_progress) for p in points], marker="o", color="tab:green")
    bottom.set_ylabel("mean progress per episode (%)")
    bottom.set_xlabel("iteration")
    bottom.set_ylim(0, 105)
    # Iterations are whole numbers: without this, a short run gets ticks at 1.5, 2.5, ...
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.grid(alpha=0.3)
    figure.suptitle("deepracer-trainer local")
    figure.tight_layout()
    return figure


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
