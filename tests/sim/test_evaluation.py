"""evaluate: a car archive drives the built-in simulator, results where deepracer-utils finds them; bad models are one line."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from markov.cli.main import main
from markov.export import archives
from markov.export.frozen_graph import freeze_session
from markov.model_metadata import parse_model_metadata
from markov.sim.evaluation import choose_action

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from policy_graphs import build_policy  # noqa: E402  (the export tests' small image-named graphs)

METADATA = {"action_space": [{"steering_angle": 0, "speed": 1.0}, {"steering_angle": 20, "speed": 0.8}],
            "sensor": ["FRONT_FACING_CAMERA"], "version": "5"}


@pytest.fixture(scope="module")
def car_archive(tmp_path_factory):
    policy = build_policy(METADATA)
    path = tmp_path_factory.mktemp("car") / "model.tar.gz"
    archives.write_archive(path, archives.car_archive_files(freeze_session(policy.session, policy.metadata),
                                                            json.dumps(METADATA).encode()))
    return path


def test_evaluate_prints_laps_and_lays_results_out_as_drfc_does(car_archive, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(car_archive), "--laps", "2", "--max-steps", "40", "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["lap", "status"] and len(printed) == 4
    (evaluation,) = out.glob("evaluation-*")
    stamp = re.fullmatch(r"evaluation-(\d{14})", evaluation.name).group(1)
    rows = (evaluation / "evaluation-simtrace" / "0-iteration.csv").read_text().splitlines()
    assert rows[0].startswith("episode,steps,X,Y") and rows[0].endswith(",obstacle_crash_counter,wall_clock") and len(rows) > 2
    assert (evaluation / "laps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics" / f"EvaluationMetrics-{stamp}.json").read_text())
    assert set(metrics) == {"metrics"} and [m["trial"] for m in metrics["metrics"]] == [1, 2]
    assert {"completion_percentage", "elapsed_time_in_milliseconds", "episode_status", "off_track_count",
            "reset_count", "crash_count", "immobilized_count", "reversed_count", "start_time", "metric_time"} <= set(metrics["metrics"][0])
    written = json.loads((out / "model" / "model_metadata.json").read_text())
    assert written == {**METADATA, "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "training_algorithm": "clipped_ppo",
                       "action_space_type": "discrete"}


def test_deepracer_utils_loads_the_evaluation(car_archive, tmp_path):
    logs = pytest.importorskip("deepracer.logs", reason="deepracer-utils is not installed (pip install -e '.[consumers]')")
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(car_archive), "--laps", "2", "--max-steps", "40", "--out-dir", str(out)]) == 0
    log = logs.DeepRacerLog(str(out))
    log.load_evaluation_trace()
    df = log.dataframe()
    assert len(df) == len((next(out.glob("evaluation-*")) / "evaluation-simtrace" / "0-iteration.csv").read_text().splitlines()) - 1
    assert sorted(df["episode"].unique()) == [0, 1] and df["stream"].str.fullmatch(r"\d{14}").all()
    summary = logs.AnalysisUtils.simulation_agg(df, firstgroup="stream", is_eval=True)
    assert len(summary) == 2 and (summary["progress"] > 0).all()


def test_action_count_mismatch_is_one_line(car_archive, tmp_path, capsys):
    wrong = {**METADATA, "action_space": METADATA["action_space"] + [{"steering_angle": -20, "speed": 0.8}]}
    files = archives.read_archive(car_archive)
    files["model_metadata.json"] = json.dumps(wrong).encode()
    bad = archives.write_archive(tmp_path / "bad.tar.gz", files)
    assert main(["evaluate", "--model", str(bad), "--out-dir", str(tmp_path)]) == 2
    assert "outputs 2 values but model_metadata.json defines 3 actions" in capsys.readouterr().err


def test_continuous_outputs_scale_to_the_action_space():
    ppo = parse_model_metadata({"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 3}},
                                "action_space_type": "continuous", "sensor": ["FRONT_FACING_CAMERA"], "version": "5"})
    assert np.allclose(choose_action([1.0, -1.0], ppo), [30, 1])
    assert np.allclose(choose_action([0.0, 0.0], ppo), [0, 2])
    sac = parse_model_metadata({**ppo.raw, "training_algorithm": "sac"})
    assert np.allclose(choose_action([np.arctanh(0.5), 0.0], sac), [15, 2])
