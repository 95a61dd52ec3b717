"""The trainer's per-iteration progress line: text and JSON, with SB3's PPO diagnostics."""
from __future__ import annotations

import json

from markov.training.progress import IterationReport


def test_text_and_json_carry_the_diagnostics():
    report = IterationReport(iteration=3, episodes=2, steps=300, episode_rewards=[10.0, 20.0],
                             episode_progress=[40.0, None], policy_loss=-0.01, value_loss=3.5, entropy=1.7, kl=0.002,
                             explained_variance=0.42, clip_fraction=0.125, checkpoint="3_Step-900.ckpt",
                             fetch_s=4.0, train_s=5.0, upload_s=1.0)
    text = report.as_text()
    assert text.startswith("Iteration 3: episodes=2 steps=300 reward mean=15 max=20 progress mean=40.0%")
    assert "explained_variance=0.42 clip_fraction=0.125" in text
    assert "transitions/s=30 " in text and text.endswith("checkpoint=3_Step-900.ckpt")
    data = json.loads(report.as_json())
    assert data["event"] == "iteration" and data["transitions_per_s"] == 30.0
    assert data["explained_variance"] == 0.42 and data["clip_fraction"] == 0.125
    assert "episode_rewards" not in data


def test_sac_has_no_ppo_diagnostics_and_no_time_no_rate():
    report = IterationReport(iteration=1, episodes=1, steps=10, kl=float("nan"))
    assert "clip_fraction" not in report.as_text() and "transitions/s=n/a" in report.as_text()
    data = json.loads(report.as_json())
    assert data["kl"] is None and data["transitions_per_s"] is None  # NaN is not JSON
