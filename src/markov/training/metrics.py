"""Per-episode metrics files in the image's format: ``TrainingMetrics.json`` and evaluation metrics.

The image's rollout worker keeps one record per episode and rewrites the whole file after each
(``markov/metrics/s3_metrics.py``); DRfC points it at ``<prefix>/metrics/TrainingMetrics.json``
(worker ``i > 0``: ``TrainingMetrics_<i>.json``) and an evaluation at
``<prefix>/metrics/EvaluationMetrics-<YYYYmmddHHMMSS>.json``. Readers: deepracer-utils'
``TrainingMetrics`` (which takes the episodes per iteration from the highest ``trial`` and the
iteration from ``episode``), the DeepRacer console's training graph, and DRoA's import (which
copies ``metrics/training/training-*.json``).

A training record::

    {"reward_score": int, "metric_time": ms, "start_time": ms, "elapsed_time_in_milliseconds": ms,
     "episode": 1-based count, "trial": 1-based index within the iteration, "phase": "training",
     "completion_percentage": int, "episode_status": "Lap complete" | "Off track" | ...}

inside ``{"metrics": [...], "version": 2.0, "best_model_metric": "progress"}``. Times are
simulated time in milliseconds, as the image takes them from the simulation clock. An
evaluation record has ``trial``, the four reset counts and no reward, inside ``{"metrics": [...]}``
only (the image leaves ``version`` out there: the console's API refuses unknown keys).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

METRICS_VERSION = 2.0  # the image's markov/constants.py METRICS_VERSION
BEST_MODEL_METRIC = "progress"  # what our rollout worker 0 ranks checkpoints by (docs/protocol.md §6.3)
TRAINING, EVALUATION = "training", "evaluation"

# The image's EpisodeStatus values and the labels its metrics files carry.
EPISODE_STATUS_LABELS = {
    "lap_complete": "Lap complete",
    "crashed": "Crashed",
    "off_track": "Off track",
    "immobilized": "Immobilized",
    "in_progress": "In progress",
    "pause": "Pause",
    "reversed": "Reversed",
    "park": "Park",
    "time_up": "Time Up",
    "prepare": "Prepare",
}
RESET_STATUSES = ("crashed", "immobilized", "off_track", "reversed")


def status_label(status: str) -> str:
    """The label the image writes for an episode status (unknown ones pass through)."""
    return EPISODE_STATUS_LABELS.get(status, status)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


@dataclass
class TrainingMetrics:
    """The growing ``TrainingMetrics.json`` of one rollout worker.

    Call :meth:`start_iteration` when a new checkpoint is played (it restarts ``trial``), then
    :meth:`add_episode` for each episode; :meth:`to_json` is the whole file, as the image
    rewrites it after every episode. ``episode`` counts on across iterations and runs of the
    same file (pass the records already in the store as ``metrics`` to continue them).
    """

    metrics: list[dict[str, Any]] = field(default_factory=list)
    _trial: int = 0

    @classmethod
    def from_json(cls, data: bytes | None) -> "TrainingMetrics":
        """Continue an existing file; unreadable or absent content starts a new one."""
        if not data:
            return cls()
        try:
            records = json.loads(data.decode("utf-8")).get("metrics", [])
        except (UnicodeDecodeError, ValueError, AttributeError):
            return cls()
        return cls(metrics=[r for r in records if isinstance(r, dict)])

    @property
    def episodes(self) -> int:
        return max((int(r.get("episode", 0)) for r in self.metrics if r.get("phase") == TRAINING), default=0)

    def start_iteration(self) -> None:
        self._trial = 0

    def add_episode(self, *, reward: float, progress: float, status: str, start_time: float, end_time: float) -> dict:
        """Record one training episode; times are simulated seconds at its start and end."""
        self._trial += 1
        record = {
            "reward_score": int(round(reward)),
            "metric_time": _ms(end_time),
            "start_time": _ms(start_time),
            "elapsed_time_in_milliseconds": _ms(end_time - start_time),
            "episode": self.episodes + 1,
            "trial": self._trial,
            "phase": TRAINING,
            "completion_percentage": int(progress),
            "episode_status": status_label(status),
        }
        self.metrics.append(record)
        return record

    def to_json(self) -> bytes:
        return json.dumps({"metrics": self.metrics, "version": METRICS_VERSION,
                           "best_model_metric": BEST_MODEL_METRIC}).encode()


def evaluation_record(*, trial: int, progress: float, status: str, start_time: float, end_time: float,
                      resets: dict[str, int] | None = None) -> dict[str, Any]:
    """One lap of an evaluation, as the image's ``EvalMetrics`` writes it (times in simulated seconds)."""
    counts = {name: int((resets or {}).get(name, 0)) for name in RESET_STATUSES}
    return {
        "completion_percentage": int(progress),
        "metric_time": _ms(end_time),
        "start_time": _ms(start_time),
        "elapsed_time_in_milliseconds": _ms(end_time - start_time),
        "episode_status": status_label(status),
        "crash_count": counts["crashed"],
        "immobilized_count": counts["immobilized"],
        "off_track_count": counts["off_track"],
        "reversed_count": counts["reversed"],
        "reset_count": sum(counts.values()),
        "trial": int(trial),
    }


def evaluation_json(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"metrics": records}).encode()
