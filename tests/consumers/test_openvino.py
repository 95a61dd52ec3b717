"""OpenVINO, the car's converter, turns our car export into a model that computes what TensorFlow does.

For every algorithm and sensor set: a real Coach graph (markov.graph) is saved as the trainer
saves it, exported with ``export --format car``, converted by OpenVINO with the input shapes
the car's model optimizer passes (``[1, 120, 160, channels]`` per camera, ``[1, n]`` per lidar,
inputs named ``main_level/agent/<main|policy>/online/network_0/<SENSOR>/<SENSOR>``), and run on
the same observation as TensorFlow. The car reads the converted model's first output; it must
be the policy, equal to TensorFlow's within 1e-4.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install -e '.[consumers]')")

from markov.export.archives import read_car_model  # noqa: E402
from markov.export.frozen_graph import load_frozen_graph  # noqa: E402
from markov.export.model_export import export_car, open_model_folder  # noqa: E402
from markov.graph import contract  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from policy_graphs import observation_for  # noqa: E402

pytestmark = pytest.mark.slow

DISCRETE = [{"steering_angle": a, "speed": s} for a, s in ((-30, 0.6), (-10, 1.0), (0, 1.4), (10, 1.0), (30, 0.6))]
CONTINUOUS = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3.0}}
ALGORITHMS = {
    "ppo_discrete": {"action_space": DISCRETE, "training_algorithm": "clipped_ppo"},
    "ppo_continuous": {"action_space": CONTINUOUS, "action_space_type": "continuous", "training_algorithm": "clipped_ppo"},
    "sac": {"action_space": CONTINUOUS, "action_space_type": "continuous", "training_algorithm": "sac"},
}
SENSOR_SETS = [
    ["FRONT_FACING_CAMERA"], ["LEFT_CAMERA"], ["STEREO_CAMERAS"], ["FRONT_FACING_CAMERA", "LIDAR"],
    ["STEREO_CAMERAS", "SECTOR_LIDAR"], ["LEFT_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
]
TOLERANCE = 1e-4


def car_input_shapes(metadata) -> dict[str, list[int]]:
    """What the car's model optimizer passes: [1, H, W, C] for a camera, [1, channels] for lidar."""
    from markov.graph.layer_tables import observation_shape

    return {sensor: [1, *observation_shape(sensor, metadata.lidar_config)] for sensor in metadata.sensors}


def randomise_weights(manager, seed: int = 5) -> None:
    """Weights of a trained-looking scale: Coach's fresh heads output ~1e-4, too flat to tell outputs apart."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    with manager.sess.graph.as_default():
        for variable in tf.compat.v1.trainable_variables():
            shape = variable.shape.as_list()
            if not shape:
                continue  # the gradient rescalers stay 1
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 10
            variable.load(rng.normal(0.0, 1.5 / np.sqrt(fan_in), size=shape).astype(np.float32), manager.sess)


def export_coach_graph(raw: dict, root: Path) -> Path:
    """Build the graph as the trainer does, save its step-0 checkpoint, export the car archive."""
    from markov.graph.manager import build_graph_manager, create_graph
    from markov.hyperparameters import parse_hyperparameters
    from markov.model_metadata import parse_model_metadata

    metadata = parse_model_metadata(raw)
    model_dir = root / "model"
    manager = build_graph_manager(metadata, parse_hyperparameters({}))
    create_graph(manager, experiment_path=root / "experiment", use_cpu=True)
    try:
        randomise_weights(manager)
        manager.checkpoint_saver.save(manager.sess, str(model_dir / "0_Step-0.ckpt"))
    finally:
        manager.sess.close()
    (model_dir / ".coach_checkpoint").write_text("0_Step-0.ckpt")
    (model_dir / "model_metadata.json").write_text(json.dumps(raw))
    return export_car(open_model_folder(str(root)), root / "car.tar.gz", "last").path


@pytest.mark.parametrize("sensors", SENSOR_SETS, ids=lambda s: "+".join(s))
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_openvino_converts_the_car_export_and_computes_what_tensorflow_does(algorithm, sensors, tmp_path):
    raw = {**ALGORITHMS[algorithm], "sensor": sensors, "version": "5",
           "lidar_config": {"num_sectors": 8, "num_values_per_sector": 4, "clipping_dist": 1.5}}
    car = read_car_model(export_coach_graph(raw, tmp_path))
    pb = tmp_path / "model.pb"
    pb.write_bytes(car.frozen_model)
    shapes = car_input_shapes(car.metadata)
    algo = car.metadata.training_algorithm
    names = {sensor: contract.input_placeholder_name(algo, sensor) for sensor in car.metadata.sensors}

    converted = ov.convert_model(str(pb), input=[(names[s] + ":0", shapes[s]) for s in car.metadata.sensors])
    # The car reads the first output; it must be the policy (a second SAC output sorted first before).
    assert len(converted.outputs) == 1
    assert contract.policy_output_name(algo) + ":0" in converted.outputs[0].get_names()
    # f32: on CPUs with AMX or AVX-512 BF16 OpenVINO would otherwise infer in bf16 (about 3 significant digits).
    compiled = ov.compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})

    with load_frozen_graph(car.frozen_model) as tf_model:
        results = []
        for seed in (1, 2):
            observation = {s: v[None] for s, v in observation_for(car.metadata, seed=seed).items()}
            ours = compiled({names[s] + ":0": observation[s] for s in car.metadata.sensors})[compiled.output(0)]
            theirs = tf_model.predict(observation)
            assert ours.shape == theirs.shape == (1, car.metadata.num_actions)
            np.testing.assert_allclose(ours, theirs, atol=TOLERANCE, rtol=0)
            results.append(theirs)
    # The tolerance can tell outputs apart: two observations already differ by far more than it.
    assert np.max(np.abs(results[0] - results[1])) > 10 * TOLERANCE
