"""``local --seed`` repeats a run, ``--stop-at-progress`` ends it, and the scalars land in ``tensorboard/``.

``--precision fp32`` reaches the trainer (its log says so), as any precision would.

Two real local runs with the same seed, each stopped by ``--stop-at-progress 0`` after its first
iteration: their first-iteration figures (episodes, rewards, losses, entropy, KL, PPO diagnostics),
read back from the TensorBoard event files, are the same. Only the timings differ.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

TINY = {"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 32}


def seeded_run(out, hyperparameters, seed: int) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "markov", "local", "--out", str(out), "--seed", str(seed),
               "--stop-at-progress", "0", "--minutes", "4", "--max-steps", "30", "--hyperparameters",
               str(hyperparameters), "--precision", "fp32"]
    return subprocess.run(command, capture_output=True, text=True, timeout=240)


def first_iteration_scalars(out) -> dict[str, float]:
    import tensorflow as tf

    scalars = {}
    for path in sorted((out / "tensorboard").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if event.step == 1:
                    scalars[value.tag] = value.simple_value
    return scalars


def test_two_seeded_runs_give_the_same_first_iteration(tmp_path):
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps(TINY))
    runs = []
    for name in ("a", "b"):
        done = seeded_run(tmp_path / name, hyperparameters, seed=7)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "reached --stop-at-progress 0; stopping" in done.stdout
        assert "tensorboard --logdir" in done.stdout
        trainer_log = (tmp_path / name / "logs" / "trainer.log").read_text()
        assert "Training precision: fp32 (requested)" in trainer_log
        assert "TensorFlow CPU kernels: " in trainer_log  # markov.graph.cpu_kernels, before TensorFlow loaded
        runs.append(first_iteration_scalars(tmp_path / name))
    first, second = runs
    figures = {tag for tag in first if not tag.startswith("time/")}
    assert {"episode/mean_reward", "episode/mean_progress", "loss/policy", "loss/value", "policy/entropy",
            "policy/kl", "policy/clip_fraction", "value/explained_variance"} <= figures
    assert {tag: first[tag] for tag in figures} == {tag: second[tag] for tag in figures}
    assert first["time/transitions_per_s"] > 0
    lines = [(tmp_path / name / "progress.jsonl").read_text().splitlines() for name in ("a", "b")]
    assert lines[0][0] == lines[1][0]  # the same episodes: reward, progress, laps, checkpoint name
    assert len(lines[0]) <= 2  # stopped at once, not after --minutes
