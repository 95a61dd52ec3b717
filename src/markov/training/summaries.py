"""TensorBoard scalars per training iteration, written with TensorFlow's own summary writer.

The trainer runs TensorFlow in TF1 graph mode (markov.compat), where TF2's ``tf.summary`` ops
would need a session of their own; TF1's ``FileWriter`` writes ``Summary`` protos directly, and
TensorBoard shows their ``simple_value`` scalars as it shows any others.

``deepracer-trainer local`` turns them on in its run folder (``tensorboard --logdir runs/first``);
``python -m training_worker --tensorboard_dir DIR`` does the same on any trainer. The step of
every scalar is the number of the checkpoint the iteration published, which keeps counting
across resumed runs of one model where the iteration number starts again at 1.
"""
from __future__ import annotations

import logging
from pathlib import Path

from markov.checkpoint_names import parse_checkpoint_number
from markov.training.progress import IterationReport

log = logging.getLogger(__name__)

# tag -> the IterationReport attribute it shows; grouped by TensorBoard's "section/name" convention.
SCALARS = {
    "episode/mean_reward": "mean_reward",
    "episode/max_reward": "max_reward",
    "episode/mean_progress": "mean_progress",
    "episode/episodes": "episodes",
    "episode/transitions": "steps",
    "loss/policy": "policy_loss",
    "loss/value": "value_loss",
    "policy/entropy": "entropy",
    "policy/kl": "kl",
    "policy/clip_fraction": "clip_fraction",
    "value/explained_variance": "explained_variance",
    "time/fetch_s": "fetch_s",
    "time/train_s": "train_s",
    "time/upload_s": "upload_s",
    "time/transitions_per_s": "transitions_per_s",
}


class IterationSummaries:
    """One event file under ``log_dir``; :meth:`write` adds an iteration's scalars and flushes."""

    def __init__(self, log_dir: Path) -> None:
        import tensorflow as tf

        import markov.compat  # noqa: F401  (graph mode, which FileWriter requires)

        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._summary = tf.compat.v1.Summary
        self._writer = tf.compat.v1.summary.FileWriter(str(self.log_dir))
        log.info("TensorBoard scalars in %s (tensorboard --logdir %s)", self.log_dir, self.log_dir)

    def write(self, report: IterationReport) -> int:
        """Write the report's known figures (None is skipped); returns the step used."""
        step = parse_checkpoint_number(report.checkpoint) if report.checkpoint else None
        step = report.iteration if step is None else step
        values = [self._summary.Value(tag=tag, simple_value=float(getattr(report, attribute)))
                  for tag, attribute in SCALARS.items() if getattr(report, attribute) is not None]
        self._writer.add_summary(self._summary(value=values), global_step=step)
        self._writer.flush()
        return step

    def close(self) -> None:
        self._writer.close()
