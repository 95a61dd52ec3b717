"""TrainingMetrics.json and evaluation metrics in the image's format."""
import json

import pytest

from markov.training.metrics import TrainingMetrics, evaluation_json, evaluation_record


def test_training_records_count_episodes_and_trials_as_the_image_does():
    metrics = TrainingMetrics()
    for iteration in range(2):
        metrics.start_iteration()
        for k in range(3):
            start = 100.0 * iteration + 10.0 * k
            metrics.add_episode(reward=12.6, progress=57.9, status="off_track" if k else "lap_complete",
                                start_time=start, end_time=start + 4.2)
    body = json.loads(metrics.to_json())
    assert body["version"] == 2.0 and body["best_model_metric"] == "progress"
    records = body["metrics"]
    assert [r["episode"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r["trial"] for r in records] == [1, 2, 3, 1, 2, 3]
    first = records[0]
    assert first == {"reward_score": 13, "metric_time": 4200, "start_time": 0, "elapsed_time_in_milliseconds": 4200,
                     "episode": 1, "trial": 1, "phase": "training", "completion_percentage": 57,
                     "episode_status": "Lap complete"}
    assert records[1]["episode_status"] == "Off track"
    # A continued model keeps counting episodes from the stored file.
    again = TrainingMetrics.from_json(metrics.to_json())
    again.start_iteration()
    assert again.add_episode(reward=0, progress=1, status="time_up", start_time=0, end_time=1)["episode"] == 7
    assert TrainingMetrics.from_json(b"not json").metrics == []


def test_evaluation_record_holds_the_reset_counts():
    record = evaluation_record(trial=2, progress=100.0, status="lap_complete", start_time=1.0, end_time=13.5,
                               resets={"off_track": 2, "crashed": 1})
    assert record["elapsed_time_in_milliseconds"] == 12500 and record["episode_status"] == "Lap complete"
    assert (record["off_track_count"], record["crash_count"], record["reset_count"]) == (2, 1, 3)
    assert set(json.loads(evaluation_json([record]))) == {"metrics"}


def test_deepracer_utils_reads_the_training_metrics(tmp_path):
    logs = pytest.importorskip("deepracer.logs", reason="deepracer-utils is not installed (pip install -e '.[consumers]')")
    metrics = TrainingMetrics()
    for iteration in range(3):
        metrics.start_iteration()
        for k in range(4):
            metrics.add_episode(reward=10 * iteration + k, progress=25 * (k + 1), status="lap_complete" if k == 3 else "off_track",
                                start_time=iteration * 60 + k * 15, end_time=iteration * 60 + k * 15 + 10)
    path = tmp_path / "TrainingMetrics.json"
    path.write_bytes(metrics.to_json())
    loaded = logs.TrainingMetrics(None, fname=str(path))
    assert loaded.episodes_per_iteration == 4
    summary = loaded.getSummary()
    assert list(summary.index.get_level_values("iteration")) == [0, 1, 2]
    assert summary["train_episodes"].tolist() == [4, 4, 4]
    assert summary["train_completion"].tolist() == [62.5, 62.5, 62.5]
    assert summary["train_completed"].tolist() == [0.25, 0.25, 0.25]
    assert summary["train_reward"].tolist() == [1.5, 11.5, 21.5]
