"""The local run's progress view, history file and plot; the no-Redis message."""
from __future__ import annotations

import io
import json

import pytest

from markov.errors import ConfigError
from markov.local import session as session_module
from markov.local.plot import progress_figure, write_progress_plot
from markov.local.progress import IterationPoint, ProgressView, read_history
from markov.local.session import LocalOptions, LocalSession


def episode(progress, status="off_track", reward=5.0):
    return {"event": "episode", "worker": 0, "checkpoint": 0, "steps": 10, "reward": reward, "progress": progress,
            "status": status, "lap_time": None}


def test_iterations_are_recorded_with_laps_and_continue_after_a_rerun(tmp_path):
    history = tmp_path / "progress.jsonl"
    out = io.StringIO()
    view = ProgressView(2, history, out, live=False)
    view.on_event(episode(40.0))
    view.on_event(episode(100.0, "lap_complete"))
    assert view.live_line().startswith("iteration 1 [####################] 2/2 episodes")
    assert "laps 1" in view.live_line()
    view.on_event({"event": "iteration", "iteration": 1, "episodes": 2, "mean_reward": 7.5, "mean_progress": 70.0,
                   "checkpoint": "1_Step-20.ckpt"})
    assert "iteration 1: mean reward 7.5, mean progress 70.0%, laps 1/2, checkpoint 1_Step-20.ckpt" in out.getvalue()

    rerun = ProgressView(2, history, io.StringIO(), live=False)  # a resumed run numbers on
    rerun.on_event({"event": "iteration", "iteration": 1, "episodes": 2, "mean_reward": 9.0, "mean_progress": None,
                    "checkpoint": "3_Step-20.ckpt"})
    points = read_history(history)
    assert [p.iteration for p in points] == [1, 2]
    assert points[0].laps == 1 and points[1].laps == 0
    assert rerun.history_since_start() == [points[1]]
    assert json.loads(history.read_text().splitlines()[1])["checkpoint"] == "3_Step-20.ckpt"


def test_progress_plot_is_a_png(tmp_path):
    view = ProgressView(1, tmp_path / "p.jsonl", io.StringIO(), live=False)
    for i in (1, 2, 3):
        view.on_event({"event": "iteration", "iteration": i, "episodes": 1, "mean_reward": float(i),
                       "mean_progress": 10.0 * i, "checkpoint": None})
    path = write_progress_plot(view.history, tmp_path / "progress.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_embeddable_redis_says_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "find_redis_server", lambda: None)
    local = LocalSession(LocalOptions(out=tmp_path), io.StringIO())
    with pytest.raises(ConfigError, match=r"docker run .*-p 6379:6379 redis.*--redis-port 6379"):
        local._start_redis()


def test_progress_plot_ticks_are_whole_iterations():
    import matplotlib.pyplot as plt

    points = [IterationPoint(iteration=i, mean_reward=float(i), mean_progress=10.0 * i, laps=0, episodes=1,
                             checkpoint=None) for i in (1, 2, 3)]
    figure = progress_figure(points)
    try:
        figure.canvas.draw()
        ticks = [tick for tick in figure.axes[1].get_xticks() if 1 <= tick <= 3]
        assert ticks and all(float(tick).is_integer() for tick in ticks), ticks
    finally:
        plt.close(figure)


def test_live_view_draws_its_line_without_raw_escape_codes(tmp_path):
    """rich draws the live line (the console API on a legacy Windows console); our code writes no ESC[K."""
    out = io.StringIO()
    view = ProgressView(2, tmp_path / "progress.jsonl", out, live=True)
    view.on_event(episode(40.0))
    assert view.live_line().startswith("iteration 1 [##########----------] 1/2 episodes | reward 5.0 | progress 40.0%")
    view.on_event(episode(100.0, "lap_complete"))
    view.on_event({"event": "iteration", "iteration": 1, "episodes": 2, "mean_reward": 7.5, "mean_progress": 70.0,
                   "checkpoint": "1_Step-20.ckpt"})
    view.close()
    text = out.getvalue()
    assert "iteration 1: mean reward 7.5, mean progress 70.0%, laps 1/2, checkpoint 1_Step-20.ckpt" in text
    assert "\x1b[K" not in text and "\r" not in text  # not a terminal: rich writes plain lines
    assert view.live_line().startswith("iteration 2 [--------------------] 0/2 episodes")
