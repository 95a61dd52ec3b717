"""TensorBoard scalars: what an iteration writes, read back from the event file with TensorFlow's reader."""
from __future__ import annotations

import pytest

from markov.training.progress import IterationReport
from markov.training.summaries import IterationSummaries


def read_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    import tensorflow as tf

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def report(iteration: int, checkpoint: str | None) -> IterationReport:
    return IterationReport(iteration=iteration, episodes=2, steps=40, episode_rewards=[1.0, 3.0],
                           episode_progress=[10.0, 30.0], policy_loss=-0.5, value_loss=2.0, entropy=1.1, kl=0.01,
                           explained_variance=0.25, clip_fraction=None, checkpoint=checkpoint,
                           fetch_s=1.0, train_s=2.0, upload_s=1.0)


def test_an_iteration_becomes_scalars_at_its_checkpoint_number(tmp_path):
    summaries = IterationSummaries(tmp_path / "tensorboard")
    assert summaries.write(report(1, "5_Step-200.ckpt")) == 5
    assert summaries.write(report(2, None)) == 2  # no checkpoint name: the iteration number
    summaries.close()
    scalars = read_scalars(tmp_path / "tensorboard")
    assert scalars["episode/mean_reward"] == [(5, 2.0), (2, 2.0)]
    assert scalars["episode/mean_progress"][0] == (5, 20.0)
    assert scalars["loss/policy"][0] == (5, -0.5) and scalars["loss/value"][0] == (5, 2.0)  # float32 protos
    assert scalars["policy/entropy"][0][1] == pytest.approx(1.1) and scalars["policy/kl"][0][1] == pytest.approx(0.01)
    assert scalars["value/explained_variance"][0] == (5, 0.25)
    assert scalars["time/train_s"][0] == (5, 2.0) and scalars["time/transitions_per_s"][0] == (5, 10.0)
    assert "policy/clip_fraction" not in scalars  # None is not written
