"""model_metadata.json parsing follows the simulation image's rules (docs/protocol.md §2)."""
import json

import pytest

from markov.errors import ConfigError
from markov.model_metadata import (
    ContinuousActionSpace,
    DiscreteAction,
    LidarConfig,
    load_model_metadata,
    parse_model_metadata,
)
from markov.defaults import MODEL_METADATA

DISCRETE = [{"steering_angle": -30, "speed": 0.6}, {"steering_angle": 0, "speed": 1.2}]
CONTINUOUS = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 4}}


def test_defaults_for_minimal_discrete_file():
    meta = parse_model_metadata({"action_space": DISCRETE})
    assert meta.training_algorithm == "clipped_ppo"
    assert meta.action_space_type == "discrete"
    assert meta.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    # no 'sensor' and no 'version': the pre-2020 single camera input, version 1
    assert meta.sensors == ("observation",)
    assert meta.version == 1.0
    assert meta.action_space == (DiscreteAction(-30.0, 0.6), DiscreteAction(0.0, 1.2))
    assert meta.num_actions == 2
    assert meta.default_action_index == 1


def test_sensor_without_version_means_version_2():
    meta = parse_model_metadata({"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA", "LIDAR"]})
    assert meta.version == 2.0
    assert meta.sensors == ("FRONT_FACING_CAMERA", "LIDAR")
    assert meta.lidar_sensor == "LIDAR"


def test_version_below_2_ignores_sensor_and_forces_shallow():
    meta = parse_model_metadata(
        {"action_space": DISCRETE, "sensor": ["STEREO_CAMERAS"], "version": "1", "neural_network": "DEEP_CONVOLUTIONAL_NETWORK"}
    )
    assert meta.sensors == ("observation",)
    assert meta.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"


def test_continuous_sac_with_string_enums_is_normalised():
    meta = parse_model_metadata(
        {"action_space": CONTINUOUS, "action_space_type": " Continuous ", "training_algorithm": "SAC",
         "sensor": ["FRONT_FACING_CAMERA"], "version": "4"}
    )
    assert meta.training_algorithm == "sac"
    assert meta.action_space == ContinuousActionSpace(-30.0, 30.0, 1.0, 4.0)
    assert meta.num_actions == 2


def test_lidar_config_defaults_and_values():
    meta = parse_model_metadata({"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
                                 "version": "3", "lidar_config": {"num_sectors": 4, "num_values_per_sector": 2, "clipping_dist": 1.5}})
    assert meta.lidar_config == LidarConfig(4, 2, 1.5)
    assert parse_model_metadata({"action_space": DISCRETE}).lidar_config == LidarConfig(8, 8, 2.0)


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({}, "'action_space' is missing"),
        ({"action_space": []}, "has no actions"),
        ({"action_space": [{"steering_angle": 0}]}, "action_space[0]"),
        ({"action_space": [{"steering_angle": "left", "speed": 1}]}, "action_space[0].steering_angle"),
        ({"action_space": DISCRETE, "training_algorithm": "dqn"}, "'training_algorithm' is 'dqn'"),
        ({"action_space": DISCRETE, "training_algorithm": "sac"}, "needs \"action_space_type\": \"continuous\""),
        ({"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA", "RADAR"]}, "unknown sensor 'RADAR'"),
        ({"action_space": DISCRETE, "sensor": ["LIDAR"]}, "exactly one camera"),
        ({"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]}, "exactly one camera"),
        ({"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"]}, "at most one lidar"),
        ({"action_space": DISCRETE, "neural_network": "RESNET"}, "'neural_network' is 'RESNET'"),
        ({"action_space": CONTINUOUS, "action_space_type": "continuous",
          "training_algorithm": "sac"} | {"action_space": {"steering_angle": {"low": 30, "high": -30}, "speed": {"low": 1, "high": 2}}},
         "low=30.0 >= high=-30.0"),
        ({"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA"], "lidar_config": {"num_sectors": 5}}, "divisor of 64"),
        ({"action_space": DISCRETE, "version": "5"}, "'sensor' is missing"),
    ],
)
def test_bad_metadata_names_the_key(data, fragment):
    with pytest.raises(ConfigError) as err:
        parse_model_metadata(data, source="my/model_metadata.json")
    message = str(err.value)
    assert message.startswith("my/model_metadata.json: ")
    assert fragment in message
    assert "\n" not in message


def test_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="nope.json: model_metadata.json not found"):
        load_model_metadata(missing)
    broken = tmp_path / "model_metadata.json"
    broken.write_text('{"action_space": [,]}')
    with pytest.raises(ConfigError, match=r"model_metadata.json: invalid JSON at line 1 column 19"):
        load_model_metadata(broken)


def test_shipped_default_is_valid_and_round_trips(tmp_path):
    meta = load_model_metadata(MODEL_METADATA)
    assert meta.sensors == ("FRONT_FACING_CAMERA",)
    assert meta.num_actions == 5
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(dict(meta.raw)))
    assert load_model_metadata(copy).action_space == meta.action_space
