"""Hyperparameter names, defaults, validation and the echo file (docs/protocol.md §1.4)."""
import json

import pytest

from fixture_files import GRAPHS as GOLDEN
from markov.errors import ConfigError
from markov.hyperparameters import (
    HyperParameters,
    hyperparameters_from_sm_training_env,
    load_hyperparameters_file,
    parse_hyperparameters,
)


@pytest.mark.parametrize("golden, algorithm", [("cam_shallow_ppo.json", "clipped_ppo"), ("cam_shallow_sac.json", "sac")])
def test_default_echo_equals_the_images_file(golden, algorithm):
    expected = json.loads((GOLDEN / golden).read_text())["hyperparameters"]
    echo = HyperParameters().echo_json(algorithm)
    assert json.loads(echo) == expected
    assert list(json.loads(echo)) == sorted(expected)  # sorted keys, as the image writes them
    assert echo.startswith('{\n  "batch_size": 64,')


def test_string_values_as_sagemaker_sends_them():
    hp = parse_hyperparameters({"batch_size": "128", "lr": "0.001", "loss_type": "Huber", "exploration_type": "E-Greedy",
                                "num_episodes_between_training": "10.0", "s3_bucket": "ignored"})
    assert hp.batch_size == 128 and isinstance(hp.batch_size, int)
    assert hp.lr == pytest.approx(0.001)
    assert hp.loss_type == "huber"
    assert hp.exploration_type == "e-greedy"
    assert hp.num_episodes_between_training == 10


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("batch_size", 0, "an integer >= 1"),
        ("batch_size", "12.5", "an integer >= 1"),
        ("lr", "fast", "a number in (0, 1]"),
        ("lr", "nan", "a number in (0, 1]"),
        ("discount_factor", 1.5, "a number in (0, 1]"),
        ("loss_type", "l1", "one of 'mean squared error', 'huber'"),
        ("exploration_type", "boltzmann", "one of 'categorical', 'e-greedy'"),
        ("sac_alpha", 0, "a number > 0"),
    ],
)
def test_bad_value_names_key_value_and_range(key, value, allowed):
    with pytest.raises(ConfigError) as err:
        parse_hyperparameters({key: value}, source="hp.json")
    assert str(err.value) == f"hp.json: hyperparameter '{key}' = {value!r} is invalid; it must be {allowed}"


def test_sm_training_env_inline_wrapper():
    raw, source = hyperparameters_from_sm_training_env('{"hyperparameters": {"batch_size": "32"}, "job_name": "x"}')
    assert raw == {"batch_size": "32"}
    assert "inline" in source


def test_sm_training_env_file_bare_dict(tmp_path):
    path = tmp_path / "hp.json"
    path.write_text('{"lr": "0.0001", "num_epochs": 3}')
    raw, source = hyperparameters_from_sm_training_env(str(path))
    assert raw == {"lr": "0.0001", "num_epochs": 3}
    assert source == str(path)
    assert load_hyperparameters_file(path).num_epochs == 3


def test_sm_training_env_file_wrapper(tmp_path):
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"hyperparameters": {"beta_entropy": "0.02"}}))
    assert load_hyperparameters_file(path).beta_entropy == pytest.approx(0.02)


def test_sm_training_env_unset_means_defaults():
    assert hyperparameters_from_sm_training_env(None)[0] == {}
    assert hyperparameters_from_sm_training_env("  ")[0] == {}


def test_sm_training_env_malformed_file_names_it(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"lr": 0.1,,}')
    with pytest.raises(ConfigError, match=r"broken.json: invalid JSON at line 1 column 12"):
        hyperparameters_from_sm_training_env(str(path))
    with pytest.raises(ConfigError, match=r"SM_TRAINING_ENV names .*missing.json, which does not exist"):
        hyperparameters_from_sm_training_env(str(tmp_path / "missing.json"))


def test_every_field_is_documented():
    """Each hyperparameter has an entry in the class docstring's Attributes section."""
    import dataclasses
    import inspect

    doc = inspect.getdoc(HyperParameters)
    attributes = doc.split("Attributes:", 1)[1]
    documented = {line.split(":", 1)[0].strip() for line in attributes.splitlines()
                  if line.startswith("    ") and not line.startswith("        ") and ":" in line}
    assert documented == {field.name for field in dataclasses.fields(HyperParameters)}
    assert "training iterations" in attributes.split("term_cond_max_episodes:", 1)[1][:120]
