"""deepracer-utils 1.5.6, the community's analysis library, reads a local run's store as it reads DRfC's.

One real ``deepracer-trainer local`` run (two iterations), then ``evaluate`` on its folder; what
deepracer-utils loads from there is asserted on values: the training and evaluation traces, the
training metrics, the per-episode summary, the timing analysis (needs ``wall_clock``) and the
track the run recorded.
"""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

logs = pytest.importorskip("deepracer.logs", reason="deepracer-utils is not installed (pip install -e '.[consumers]')")
tracks = pytest.importorskip("deepracer.tracks", reason="deepracer-utils is not installed (pip install -e '.[consumers]')")

pytestmark = pytest.mark.slow
EPISODES = 10  # LOCAL_HYPERPARAMETERS' num_episodes_between_training


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    subprocess.run([sys.executable, "-m", "markov", "local", "--iterations", "2", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=900)
    prefix = out / "store" / "deepracer-local"
    subprocess.run([sys.executable, "-m", "markov", "evaluate", "--model", str(prefix), "--laps", "2", "--max-steps", "200"],
                   check=True, capture_output=True, text=True, timeout=300)
    return prefix


def test_training_trace_loads_as_a_drfc_single_worker_model(run):
    log = logs.DeepRacerLog(str(run))
    assert log.fh.type == logs.LogFolderType.DRFC_MODEL_SINGLE_WORKERS
    log.load_training_trace()
    df = log.dataframe()
    assert sorted(df["iteration"].unique()) == [0, 1]
    assert df["unique_episode"].nunique() == 2 * EPISODES
    assert log.hyperparameters()["num_episodes_between_training"] == EPISODES
    assert log.agent_and_network()["network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert df["wall_clock"].notna().all()  # the image's 19th column

    summary = logs.AnalysisUtils.simulation_agg(df, secondgroup="unique_episode")
    assert len(summary) == 2 * EPISODES
    assert summary["progress"].between(0, 100).all() and (summary["steps"] > 1).all()
    assert summary["time"].gt(0).all()

    timing = log.stability.analyze_timing()
    assert list(timing["iteration"]) == [0, 1]
    assert timing["train_time_s"].gt(0).all()
    assert timing["policy_time_s"].iloc[0] > 0  # the gap while the trainer trained (wall_clock)


def test_training_metrics_load_and_summarise_per_iteration(run):
    path = run / "metrics" / "TrainingMetrics.json"
    metrics = logs.TrainingMetrics(None, fname=str(path))
    assert metrics.episodes_per_iteration == EPISODES
    summary = metrics.getSummary()
    assert list(summary.index.get_level_values("iteration")) == [0, 1]
    assert summary["train_episodes"].tolist() == [EPISODES, EPISODES]
    # The same episodes as the simtrace: each record's completion is its episode's last progress.
    log = logs.DeepRacerLog(str(run))
    log.load_training_trace()
    last = log.dataframe().groupby("unique_episode")["progress"].last().astype(int).tolist()
    records = json.loads(path.read_text())["metrics"]
    assert [r["completion_percentage"] for r in records] == last


def test_evaluation_trace_loads_from_the_runs_folder(run):
    log = logs.DeepRacerLog(str(run))
    log.load_evaluation_trace()
    df = log.dataframe()
    assert df["stream"].nunique() == 1 and sorted(df["episode"].unique()) == [0, 1]
    summary = logs.AnalysisUtils.simulation_agg(df, firstgroup="stream", is_eval=True)
    assert len(summary) == 2
    (evaluation,) = run.glob("evaluation-*")
    metrics = json.loads((run / "metrics" / f"EvaluationMetrics-{evaluation.name[len('evaluation-'):]}.json").read_text())
    # Each lap's completion is its last step's progress, as the image's EvalMetrics writes it: below the
    # summary's best progress (a max) when an untrained car reverses over the start line (-2 %).
    last = df.groupby("episode")["progress"].last().astype(int).tolist()
    assert [m["completion_percentage"] for m in metrics["metrics"]] == last
    assert all(m <= best for m, best in zip(last, summary["progress"]))


def test_the_recorded_track_loads_with_trackio(run):
    record = json.loads((run / "model" / "training_track.json").read_text())
    assert record["name"] == "oval" and record["source"] == "built-in"
    track = tracks.TrackIO(base_path=str(run / "tracks")).load_track("oval")
    assert track.waypoints.shape[1] == 6
    center = track.center_line
    length = float(np.sum(np.hypot(*np.diff(center, axis=0).T)))
    assert math.isclose(record["length"], length, rel_tol=0.02)


def test_droa_export_of_the_local_run_needs_no_flags_and_passes_droas_rules(run, tmp_path):
    """README's and docs/local.md's export, as --format droa: the run holds its reward function and track."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "export"))
    from droa_import_rules import droa_import_errors
    from markov.export.archives import check_droa_archive

    out = tmp_path / "droa.zip"
    subprocess.run([sys.executable, "-m", "markov", "export", "--checkpoint", str(run), "--step", "best",
                    "--format", "droa", "--out", str(out)], check=True, capture_output=True, text=True, timeout=300)
    files = check_droa_archive(out)
    assert droa_import_errors(files) == []
    assert files["reward_function.py"] == (run / "reward_function.py").read_bytes()
    assert "metrics/training/training-metrics.json" in files
