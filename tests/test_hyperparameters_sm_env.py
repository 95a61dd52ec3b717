"""SM_TRAINING_ENV as SageMaker sets it (inline JSON) and as the Windows guide set it (a file path)."""
from __future__ import annotations

import json

import pytest

from markov.errors import ConfigError
from markov.hyperparameters import hyperparameters_from_sm_training_env, parse_hyperparameters

WRAPPED = {"hyperparameters": {"batch_size": "32", "lr": "0.001", "exploration_type": "Categorical"},
           "current_host": "algo-1"}
BARE = {"batch_size": 32, "lr": 0.001, "num_epochs": "5"}


def test_unset_means_defaults():
    assert hyperparameters_from_sm_training_env(None)[0] == {}
    assert hyperparameters_from_sm_training_env("   ")[0] == {}


def test_inline_wrapper_with_string_values():
    raw, source = hyperparameters_from_sm_training_env(json.dumps(WRAPPED))
    assert raw == WRAPPED["hyperparameters"]
    assert "inline" in source
    parsed = parse_hyperparameters(raw, source)
    assert (parsed.batch_size, parsed.lr, parsed.exploration_type) == (32, 0.001, "categorical")


def test_inline_bare_dict():
    raw, _ = hyperparameters_from_sm_training_env(json.dumps(BARE))
    assert parse_hyperparameters(raw).num_epochs == 5


@pytest.mark.parametrize("content", [WRAPPED, BARE])
def test_file_path_with_wrapper_or_bare(tmp_path, content):
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(content), encoding="utf-8-sig")  # Notepad writes a BOM
    raw, source = hyperparameters_from_sm_training_env(str(path))
    assert source == str(path)
    assert parse_hyperparameters(raw).batch_size == 32


def test_double_encoded_wrapper():
    value = json.dumps({"hyperparameters": json.dumps({"batch_size": "16"})})
    assert hyperparameters_from_sm_training_env(value)[0] == {"batch_size": "16"}


def test_malformed_file_names_the_file(tmp_path):
    path = tmp_path / "hp.json"
    path.write_text('{"batch_size": 32,,}')
    with pytest.raises(ConfigError, match=f"{path}: invalid JSON at line 1"):
        hyperparameters_from_sm_training_env(str(path))


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=f"names {tmp_path / 'nope.json'}, which does not exist"):
        hyperparameters_from_sm_training_env(str(tmp_path / "nope.json"))


@pytest.mark.parametrize("value, match", [("[1, 2]", "expected a JSON object"),
                                          ('{"hyperparameters": [1]}', "must be a JSON object")])
def test_wrong_shapes(tmp_path, value, match):
    path = tmp_path / "hp.json"
    path.write_text(value)
    with pytest.raises(ConfigError, match=match):
        hyperparameters_from_sm_training_env(str(path))
