"""Pictures of a track with something drawn along it: a driven line, or reward as a heat map.

One function serves both ``reward-check`` (reward per position) and ``evaluate`` (the lines a
model drove), so the two pictures look alike. matplotlib is imported only when a picture is
made, with the non-interactive Agg backend, so headless machines work.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from markov.sim.track import Track


def plot_track(track: Track, path: str | Path, lines: Sequence[tuple[np.ndarray, np.ndarray]] = (),
               values: np.ndarray | None = None, points: tuple[np.ndarray, np.ndarray] | None = None,
               title: str = "", value_label: str = "reward", cmap: str = "viridis",
               labels: Sequence[str] = ()) -> Path:
    """Save a PNG of the track, optionally with driven lines or points coloured by value.

    Args:
        track: the track (borders in grey, centre line dashed).
        path: where to write the PNG; parent folders are created.
        lines: (x, y) arrays, one per driven line (e.g. one per lap), drawn as plain lines.
        points: (x, y) arrays of positions to colour by ``values`` (a heat map).
        values: one value per point; a colour bar labelled ``value_label`` is added.
        title: text above the picture.
        labels: a legend entry per line (``lap 1``, ...); none by default.

    Returns:
        The path written.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xmin, ymin, xmax, ymax = track.bounds()
    aspect = (ymax - ymin + 0.4) / max(xmax - xmin + 0.4, 1e-6)
    fig, ax = plt.subplots(figsize=(9, max(3.0, min(9.0, 9 * aspect)) + 0.6), dpi=100)
    ax.fill(*_road_outline(track), color="#d9d9d9", zorder=0)
    ax.plot(track.inner[:, 0], track.inner[:, 1], color="#555555", lw=1.2)
    ax.plot(track.outer[:, 0], track.outer[:, 1], color="#555555", lw=1.2)
    ax.plot(track.center[:, 0], track.center[:, 1], color="#999999", lw=0.8, ls="--")
    sx, sy, yaw = track.pose_at(0.0)
    ax.annotate("", xy=(sx + 0.4 * np.cos(yaw), sy + 0.4 * np.sin(yaw)), xytext=(sx, sy),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.5})
    for i, (x, y) in enumerate(lines):
        ax.plot(x, y, lw=1.0, alpha=0.8, label=labels[i] if i < len(labels) else None)
    if labels:
        ax.legend(loc="best", fontsize="small")
    if points is not None:
        px, py = points
        scatter = ax.scatter(px, py, c=values, s=6, cmap=cmap, zorder=3)
        if values is not None:
            fig.colorbar(scatter, ax=ax, label=value_label, shrink=0.8)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(title or f"{track.name}: {track.length:.2f} m, {track.width:.2f} m wide")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _road_outline(track: Track) -> tuple[np.ndarray, np.ndarray]:
    """One polygon for the road: outer border out, inner border back (a slit joins loops)."""
    ring = np.vstack([track.outer, track.inner[::-1]])
    return ring[:, 0], ring[:, 1]
