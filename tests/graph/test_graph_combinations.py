"""Every sensor x network x algorithm combination builds with the image's names and shapes.

Only the two golden dumps come from the image itself; for every other combination the same
naming rules hold (docs/protocol.md §3), so each built graph is checked against the contract
derived from the layer tables, and for its input placeholders and policy output.

A graph takes 4-18 s to build here (stereo with the deep tables is the slowest), so the quick
suite builds a handful, and the ``slow`` sweep builds every sensor set with every algorithm on
the shallow table plus every camera with both deeper tables (each component in each
context). The contract itself is checked for all 108 combinations without TensorFlow in
``test_graph_layer_tables.py``.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from graph_fixtures import build_graph
from markov.graph import contract, layer_tables
from markov.sensors import IMAGE_SENSORS
from markov.model_metadata import (
    DEEP, DEEPER, DISCRETIZED_SECTOR_LIDAR, FRONT_FACING_CAMERA, LEFT_CAMERA, LIDAR, SECTOR_LIDAR, SHALLOW,
    STEREO_CAMERAS,
)

DISCRETE = {"action_space": [{"steering_angle": a, "speed": s} for a in (-30, 0, 30) for s in (1.0, 2.0)],
            "action_space_type": "discrete", "training_algorithm": "clipped_ppo"}
CONTINUOUS = {"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3}},
              "action_space_type": "continuous"}
ALGORITHMS = {
    "ppo_discrete": DISCRETE,
    "ppo_continuous": {**CONTINUOUS, "training_algorithm": "clipped_ppo"},
    "sac": {**CONTINUOUS, "training_algorithm": "sac"},
}
CAMERAS = (FRONT_FACING_CAMERA, LEFT_CAMERA, STEREO_CAMERAS)
LIDARS = (None, LIDAR, SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR)
NETWORKS = (SHALLOW, DEEP, DEEPER)
LIDAR_CONFIG = {"num_sectors": 16, "num_values_per_sector": 4, "clipping_dist": 1.5}


def model_metadata(camera, lidar, network, algorithm) -> dict:
    sensors = [camera] + ([lidar] if lidar else [])
    return {**ALGORITHMS[algorithm], "sensor": sensors, "neural_network": network, "version": "5",
            "lidar_config": LIDAR_CONFIG}


QUICK = [
    (FRONT_FACING_CAMERA, None, DEEP, "ppo_discrete"),
    (FRONT_FACING_CAMERA, LIDAR, DEEPER, "ppo_continuous"),
    (FRONT_FACING_CAMERA, None, DEEPER, "sac"),
    (LEFT_CAMERA, SECTOR_LIDAR, SHALLOW, "sac"),
    (STEREO_CAMERAS, DISCRETIZED_SECTOR_LIDAR, SHALLOW, "ppo_discrete"),
]
SWEEP = [
    combo for combo in (
        list(itertools.product(CAMERAS, LIDARS, [SHALLOW], ALGORITHMS))
        + list(itertools.product(CAMERAS, [LIDAR], [DEEP, DEEPER], ["ppo_discrete"]))
        + list(itertools.product([FRONT_FACING_CAMERA], [None], [DEEP, DEEPER], ["ppo_continuous", "sac"]))
    ) if combo not in QUICK
]


def _ids(combos):
    return ["-".join(str(part) for part in combo) for combo in combos]


def check_graph(metadata_dict: dict, tmp_path) -> None:
    manager, metadata = build_graph(metadata_dict, experiment_path=tmp_path)
    try:
        graph = manager.graph
        # 1. exactly the contract's checkpoint contents
        assert manager.checkpoint_saver.variable_shapes() == contract.checkpoint_variables(metadata)

        # 2. one float32 placeholder per sensor, named <KEY>/<KEY>; images divided by 255 in the graph
        feed = {}
        for sensor in metadata.sensors:
            placeholder = graph.get_operation_by_name(contract.input_placeholder_name(metadata.training_algorithm,
                                                                                      sensor))
            assert placeholder.type == "Placeholder"
            assert placeholder.get_attr("dtype").name == "float32"
            shape = layer_tables.observation_shape(sensor, metadata.lidar_config)
            assert placeholder.outputs[0].shape.as_list() == [None, *shape]
            if sensor in IMAGE_SENSORS:
                assert "RealDiv" in {consumer.type for consumer in placeholder.outputs[0].consumers()}
            feed[placeholder.outputs[0]] = np.full((2, *shape), 255.0 if len(shape) == 3 else 1.0, np.float32)

        # 3. the policy node the frozen graph exports, evaluable from the placeholders alone
        policy = graph.get_operation_by_name(contract.policy_output_name(metadata.training_algorithm))
        assert policy.type == ("Softmax" if metadata.is_discrete else "Identity")
        values = manager.sess.run(policy.outputs[0], feed_dict=feed)
        assert values.shape == (2, metadata.num_actions)
        assert np.all(np.isfinite(values))
        if metadata.is_discrete:
            np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=1e-5)
    finally:
        manager.sess.close()


@pytest.mark.parametrize("camera, lidar, network, algorithm", QUICK, ids=_ids(QUICK))
def test_combination_builds_with_image_names(camera, lidar, network, algorithm, tmp_path):
    check_graph(model_metadata(camera, lidar, network, algorithm), tmp_path)


def test_old_metadata_builds_the_observation_graph(tmp_path):
    check_graph({"action_space": DISCRETE["action_space"]}, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("camera, lidar, network, algorithm", SWEEP, ids=_ids(SWEEP))
def test_combination_sweep(camera, lidar, network, algorithm, tmp_path):
    check_graph(model_metadata(camera, lidar, network, algorithm), tmp_path)
