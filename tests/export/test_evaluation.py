"""evaluate: a car archive drives the built-in simulator; bad models are one line."""
import json

import numpy as np
import pytest

from markov.cli.main import main
from markov.export import archives
from markov.export.evaluation import choose_action
from markov.export.frozen_graph import freeze_session
from markov.model_metadata import parse_model_metadata
from policy_graphs import build_policy

METADATA = {"action_space": [{"steering_angle": 0, "speed": 1.0}, {"steering_angle": 20, "speed": 0.8}],
            "sensor": ["FRONT_FACING_CAMERA"], "version": "5"}


@pytest.fixture(scope="module")
def car_archive(tmp_path_factory):
    policy = build_policy(METADATA)
    path = tmp_path_factory.mktemp("car") / "model.tar.gz"
    archives.write_archive(path, archives.car_archive_files(freeze_session(policy.session, policy.metadata),
                                                            json.dumps(METADATA).encode()))
    return path


def test_evaluate_prints_laps_and_writes_simtrace_and_png(car_archive, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(car_archive), "--laps", "2", "--max-steps", "40", "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["lap", "status"] and len(printed) == 4
    rows = (out / "simtrace.csv").read_text().splitlines()
    assert rows[0].startswith("episode,steps,X,Y") and len(rows) > 2
    assert (out / "laps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
