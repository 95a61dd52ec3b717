"""``deepracer-trainer new-model``: a step-0 model users can start from."""
from __future__ import annotations

import json

import pytest

from fixture_files import GRAPHS
from markov.cli.main import main
from markov.graph.checkpoint import read_checkpoint_variables

GOLDEN = GRAPHS / "cam_shallow_ppo.json"


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def new_model(golden, tmp_path_factory):
    directory = tmp_path_factory.mktemp("new-model")
    metadata = directory / "model_metadata.json"
    metadata.write_text(json.dumps(golden["model_metadata"]))
    hyperparameters = directory / "hyperparameters.json"
    hyperparameters.write_text(json.dumps(golden["hyperparameters"]))
    out = directory / "model"
    code = main(["new-model", "--model-metadata", str(metadata), "--out", str(out),
                 "--hyperparameters", str(hyperparameters)])
    return code, metadata, out


def test_writes_the_step_0_checkpoint_files(new_model):
    code, _, out = new_model
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "0_Step-0.ckpt.data-00000-of-00001", "0_Step-0.ckpt.index", "0_Step-0.ckpt.meta", "checkpoint",
        ".coach_checkpoint"}
    assert (out / ".coach_checkpoint").read_bytes() == b"0_Step-0.ckpt"
    assert 'model_checkpoint_path: "0_Step-0.ckpt"' in (out / "checkpoint").read_text()


def test_checkpoint_holds_the_golden_variables(new_model, golden):
    _, _, out = new_model
    assert read_checkpoint_variables(str(out / "0_Step-0.ckpt")) == {
        name: tuple(shape) for name, shape in golden["checkpointed_variables"]}


def test_refuses_to_overwrite_a_model(new_model, capsys):
    _, metadata, out = new_model
    assert main(["new-model", "--model-metadata", str(metadata), "--out", str(out)]) == 2
    assert f"error: --out {out}: already holds a checkpoint" in capsys.readouterr().err


def test_bad_model_metadata_names_file_and_key(tmp_path, capsys):
    metadata = tmp_path / "model_metadata.json"
    metadata.write_text(json.dumps({"action_space": [{"steering_angle": 0, "speed": 1}],
                                    "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "RESNET"}))
    assert main(["new-model", "--model-metadata", str(metadata), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {metadata}: 'neural_network' is 'RESNET'; allowed:")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_bad_hyperparameter_names_key_value_and_range(tmp_path, golden, capsys):
    metadata = tmp_path / "model_metadata.json"
    metadata.write_text(json.dumps(golden["model_metadata"]))
    hyperparameters = tmp_path / "hyperparameters.json"
    hyperparameters.write_text(json.dumps({"batch_size": 64, "discount_factor": 1.5}))
    assert main(["new-model", "--model-metadata", str(metadata), "--out", str(tmp_path / "m"),
                 "--hyperparameters", str(hyperparameters)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {hyperparameters}: hyperparameter 'discount_factor' = 1.5 is invalid; it must be a number in (0, 1]")
