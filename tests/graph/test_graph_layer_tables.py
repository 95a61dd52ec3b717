"""Layer tables and the checkpoint contract derived from them, against docs/protocol.md §3.2 numbers."""
from __future__ import annotations

import pytest

from markov.graph import contract, layer_tables
from markov.model_metadata import (
    DEEP, DEEPER, DISCRETIZED_SECTOR_LIDAR, FRONT_FACING_CAMERA, LEFT_CAMERA, LIDAR, OBSERVATION, SECTOR_LIDAR,
    SHALLOW, STEREO_CAMERAS, LidarConfig, parse_model_metadata,
)

PPO_DISCRETE = {"action_space": [{"steering_angle": -30, "speed": 1}, {"steering_angle": 0, "speed": 1},
                                 {"steering_angle": 30, "speed": 1}]}
CONTINUOUS = {"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3}},
              "action_space_type": "continuous"}


def metadata(sensors, network=SHALLOW, algorithm="clipped_ppo", base=PPO_DISCRETE, **extra):
    return parse_model_metadata({**base, "sensor": list(sensors), "neural_network": network,
                                 "training_algorithm": algorithm, "version": "5", **extra})


@pytest.mark.parametrize("sensor, network, size", [
    (FRONT_FACING_CAMERA, SHALLOW, 11 * 16 * 64),
    (FRONT_FACING_CAMERA, DEEP, 56000),
    (FRONT_FACING_CAMERA, DEEPER, 9216),
    (LEFT_CAMERA, DEEP, 56000),
    (OBSERVATION, DEEPER, 11264),
    (STEREO_CAMERAS, SHALLOW, 11264),
    (STEREO_CAMERAS, DEEP, 112000),
    (STEREO_CAMERAS, DEEPER, 112000),
    (LIDAR, SHALLOW, 256),
    (SECTOR_LIDAR, DEEP, 256),
    (DISCRETIZED_SECTOR_LIDAR, DEEPER, 256),
])
def test_flattened_embedding_sizes(sensor, network, size):
    assert layer_tables.flattened_size(sensor, network) == size


def test_layer_names_skip_the_activation_positions():
    assert layer_tables.layer_names(layer_tables.embedder_layers(FRONT_FACING_CAMERA, DEEPER)) == [
        "Conv2d_0", "Conv2d_2", "Conv2d_4", "Conv2d_6", "Dense_8", "Dense_10"]
    assert layer_tables.layer_names(layer_tables.middleware_layers(DEEPER)) == ["Dense_0", "Dense_2"]


@pytest.mark.parametrize("sensor, shape", [
    (FRONT_FACING_CAMERA, (120, 160, 1)), (OBSERVATION, (120, 160, 1)), (STEREO_CAMERAS, (120, 160, 2)),
    (LIDAR, (64,)), (SECTOR_LIDAR, (8,)),
])
def test_observation_shapes(sensor, shape):
    assert layer_tables.observation_shape(sensor) == shape


def test_discretized_sector_lidar_shape_follows_lidar_config():
    assert layer_tables.observation_shape(DISCRETIZED_SECTOR_LIDAR, LidarConfig(16, 4, 1.0)) == (64,)


@pytest.mark.parametrize("network, sensors, inputs", [
    (SHALLOW, (FRONT_FACING_CAMERA, LIDAR), 11520),
    (DEEP, (FRONT_FACING_CAMERA, LIDAR), 56256),
    (DEEPER, (FRONT_FACING_CAMERA, LIDAR), 9472),
    (DEEP, (STEREO_CAMERAS, SECTOR_LIDAR), 112256),
])
def test_middleware_input_size_is_the_concatenated_embeddings(network, sensors, inputs):
    variables = contract.checkpoint_variables(metadata(sensors, network))
    scope = contract.network_scope("main", 1)
    assert variables[f"{scope}/middleware_fc_embedder/Dense_0/kernel"][0] == inputs


def test_deeper_middleware_has_two_layers_and_heads_read_its_128_features():
    variables = contract.checkpoint_variables(metadata([FRONT_FACING_CAMERA], DEEPER))
    scope = contract.network_scope("main", 1)
    assert variables[f"{scope}/middleware_fc_embedder/Dense_2/kernel"] == (256, 128)
    assert variables[f"{scope}/ppo_head_0/policy_fc/kernel"] == (128, 3)


def test_continuous_ppo_has_mean_and_log_std():
    variables = contract.checkpoint_variables(metadata([FRONT_FACING_CAMERA], base=CONTINUOUS))
    head = f"{contract.network_scope('main', 1)}/ppo_head_0"
    assert variables[f"{head}/policy_mean/kernel"] == (512, 2)
    assert variables[f"{head}/policy_log_std"] == (1, 2)
    assert f"{head}/policy_fc/kernel" not in variables


def test_sac_q_twins_read_embedding_plus_action_without_middleware():
    variables = contract.checkpoint_variables(metadata([FRONT_FACING_CAMERA, LIDAR], algorithm="sac", base=CONTINUOUS))
    q = contract.network_scope("q")
    assert variables[f"{q}/q_values_head_0/q2_head/dense_4/kernel"] == (11520 + 2, 256)
    assert not any(name.startswith(f"{q}/middleware") for name in variables)


def test_old_metadata_uses_the_observation_input_and_shallow_table():
    parsed = parse_model_metadata({**PPO_DISCRETE, "neural_network": DEEP})
    variables = contract.checkpoint_variables(parsed)
    assert variables[f"{contract.network_scope('main', 0)}/observation/Conv2d_0/kernel"] == (8, 8, 1, 32)
    assert contract.input_placeholder_name("clipped_ppo", OBSERVATION) == \
        "main_level/agent/main/online/network_0/observation/observation"


def test_embedders_are_listed_in_sorted_key_order():
    variables = contract.checkpoint_variables(metadata([LIDAR, STEREO_CAMERAS]))
    sensors_in_order = list(dict.fromkeys(name.split("/")[5] for name in variables
                                          if name.split("/")[5] in (LIDAR, STEREO_CAMERAS)))
    assert sensors_in_order == [LIDAR, STEREO_CAMERAS]


def test_policy_output_names():
    assert contract.policy_output_name("clipped_ppo") == "main_level/agent/main/online/network_1/ppo_head_0/policy"
    assert contract.policy_output_name("sac") == "main_level/agent/policy/online/network_0/sac_policy_head_0/policy"


ALL_COMBINATIONS = [
    (camera, lidar, network, algorithm)
    for camera in (FRONT_FACING_CAMERA, LEFT_CAMERA, STEREO_CAMERAS)
    for lidar in (None, LIDAR, SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR)
    for network in (SHALLOW, DEEP, DEEPER)
    for algorithm in ("ppo_discrete", "ppo_continuous", "sac")
]


@pytest.mark.parametrize("camera, lidar, network, algorithm", ALL_COMBINATIONS)
def test_contract_for_every_combination(camera, lidar, network, algorithm):
    sensors = [camera] + ([lidar] if lidar else [])
    base = PPO_DISCRETE if algorithm == "ppo_discrete" else CONTINUOUS
    parsed = metadata(sensors, network, "sac" if algorithm == "sac" else "clipped_ppo", base,
                      lidar_config={"num_sectors": 4, "num_values_per_sector": 2})
    variables = contract.checkpoint_variables(parsed)
    wrappers = ("policy", "q", "v") if algorithm == "sac" else ("main",)
    networks = {name.rsplit("/gradients_from_head_0-0_rescalers", 1)[0] for name in variables
                if name.endswith("/gradients_from_head_0-0_rescalers")}
    assert networks == ({contract.network_scope(w) for w in wrappers} if algorithm == "sac"
                        else {contract.network_scope("main", 0), contract.network_scope("main", 1)})
    merged = sum(layer_tables.flattened_size(s, network, parsed.lidar_config) for s in sensors)
    channels = 2 if camera == STEREO_CAMERAS else 1
    for scope in networks:
        assert variables[f"{scope}/{camera}/Conv2d_0/kernel"][2] == channels
        if lidar:
            assert variables[f"{scope}/{lidar}/Dense_0/kernel"] == (layer_tables.observation_shape(
                lidar, parsed.lidar_config)[0], 256)
        if not scope.endswith("/q/online/network_0"):
            assert variables[f"{scope}/middleware_fc_embedder/Dense_0/kernel"][0] == merged
    assert all(name.startswith("main_level/agent/") and "/target/" not in name for name in variables)
    assert all(name.endswith(("/kernel", "/bias", "_rescalers", "/policy_log_std")) for name in variables)
