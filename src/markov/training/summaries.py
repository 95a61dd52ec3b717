"""TensorBoard scalars per training iteration, written with TensorFlow's own summary writer.

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

        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        log.info("TensorBoard scalars in %s (tensorboard --logdir %s)", self.log_dir, self.log_dir)

    def write(self, report: IterationReport) -> int:
        """Write the report's known figures (None is skipped); returns the step used."""
        step = parse_checkpoint_number(report.checkpoint) if report.checkpoint else None
        step = report.iteration if step is None else step
        with self._writer.as_default():
            for tag, attribute in SCALARS.items():
                value = getattr(report, attribute)
                if value is not None:
                    self._tf.summary.scalar(tag, float(value), step=step)
        self._writer.flush()
        return step

    def close(self) -> None:
        self._writer.close()
