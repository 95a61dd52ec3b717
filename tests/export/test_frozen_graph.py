"""Frozen graphs: exact node names, only the policy branch, same numbers as the live policy."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from markov.errors import ConfigError
from markov.export.frozen_graph import freeze_checkpoint, freeze_session, load_frozen_graph
from policy_graphs import build_policy, observation_for

DISCRETE = [{"steering_angle": -30, "speed": 0.6}, {"steering_angle": 0, "speed": 1.0}, {"steering_angle": 30, "speed": 0.6}]
CONTINUOUS = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2.0}}

CASES = {
    "ppo_discrete_camera": {"action_space": DISCRETE, "sensor": ["FRONT_FACING_CAMERA"], "version": "5"},
    "ppo_continuous_camera_lidar": {"action_space": CONTINUOUS, "action_space_type": "continuous",
                                    "sensor": ["FRONT_FACING_CAMERA", "LIDAR"], "version": "5"},
    "ppo_discrete_stereo_sector_lidar": {"action_space": DISCRETE, "sensor": ["STEREO_CAMERAS", "SECTOR_LIDAR"], "version": "5"},
    "sac_camera": {"action_space": CONTINUOUS, "action_space_type": "continuous", "training_algorithm": "sac",
                   "sensor": ["FRONT_FACING_CAMERA"], "version": "4"},
    "sac_left_camera_discretized_lidar": {"action_space": CONTINUOUS, "action_space_type": "continuous",
                                          "training_algorithm": "sac", "sensor": ["LEFT_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
                                          "lidar_config": {"num_sectors": 4, "num_values_per_sector": 2, "clipping_dist": 1.0},
                                          "version": "5"},
}


def _freeze(case: str):
    policy = build_policy(CASES[case])
    data = freeze_session(policy.session, policy.metadata)
    return case, policy, data, load_frozen_graph(data)


@pytest.fixture(scope="module", params=sorted(CASES))
def frozen(request):
    built = _freeze(request.param)
    yield built
    built[3].close()
    built[1].session.close()


@pytest.fixture(scope="module")
def camera():
    built = _freeze("ppo_discrete_camera")
    yield built
    built[3].close()
    built[1].session.close()


def test_inputs_are_one_placeholder_per_sensor_with_the_image_names(frozen):
    name, policy, _, model = frozen
    wrapper = "policy" if policy.metadata.training_algorithm == "sac" else "main"
    expected = {s: f"main_level/agent/{wrapper}/online/network_0/{s}/{s}" for s in policy.metadata.sensors}
    assert model.inputs == expected
    placeholders = sorted(n.name for n in model.graph_def.node if n.op == "Placeholder")
    assert placeholders == sorted(expected.values())
    for sensor, node in expected.items():
        assert model.input_shapes[sensor] == tuple(policy.inputs[sensor].shape[1:])


def test_outputs_are_the_policy_head_nodes(frozen):
    name, policy, _, model = frozen
    nodes = {n.name: n for n in model.graph_def.node}
    if policy.metadata.training_algorithm == "sac":
        # Exactly the image's one SAC output: a second one (policy_log_std) sorts first after
        # OpenVINO conversion, and the car would read it.
        head = "main_level/agent/policy/online/network_0/sac_policy_head_0"
        assert model.outputs == [f"{head}/policy"]
        assert nodes[f"{head}/policy"].op == "Identity"
        assert f"{head}/policy_log_std" not in nodes
    else:
        out = "main_level/agent/main/online/network_1/ppo_head_0/policy"
        assert model.outputs == [out]
        assert nodes[out].op == ("Softmax" if policy.metadata.is_discrete else "Identity")
    assert model.output_width == policy.metadata.num_actions


def test_only_the_policy_branch_remains_with_no_variables_or_training_ops(frozen):
    _, _, _, model = frozen
    ops = {n.op for n in model.graph_def.node}
    names = [n.name for n in model.graph_def.node]
    assert not ops & {"VariableV2", "VarHandleOp", "Assign", "ApplyAdam", "ReadVariableOp"}
    assert not [n for n in names if "v_values_head" in n or "gradients" in n or "Adam" in n or "tanh_actions" in n]
    # constants were folded: no Identity left on weights
    assert not [n for n in names if n.endswith("/read")]


def test_frozen_output_equals_live_policy(frozen):
    _, policy, _, model = frozen
    observation = observation_for(policy.metadata, seed=3)
    expected = policy.run(observation)[0]
    got = model.predict_all(observation)
    assert len(got) == 1
    assert np.max(np.abs(got[0] - expected)) <= 1e-5
    batch = {k: np.stack([v, v]) for k, v in observation.items()}
    assert model.predict(batch).shape == (2, policy.metadata.num_actions)


def test_graph_is_portable_no_default_valued_attributes_and_a_real_producer(frozen):
    """TF 1.x-era loaders refuse attributes they do not know (MatMul grad_a/grad_b, added in TF 2)."""
    import tensorflow as tf
    from tensorflow.python.framework import op_def_registry

    _, _, data, _ = frozen
    graph_def = tf.compat.v1.GraphDef.FromString(data)  # the file's bytes: importing a graph fills defaults in
    assert graph_def.versions.producer == tf.version.GRAPH_DEF_VERSION > 0
    defaulted = []
    for node in graph_def.node:
        op_def = op_def_registry.get(node.op)
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name in node.attr and node.attr[attr.name] == attr.default_value:
                defaulted.append(f"{node.name}:{attr.name}")
    assert defaulted == []
    matmuls = [n for n in graph_def.node if n.op == "MatMul"]
    assert matmuls and not [n.name for n in matmuls if "grad_a" in n.attr or "grad_b" in n.attr]


def test_freeze_checkpoint_matches_freeze_session(tmp_path):
    policy = build_policy(CASES["ppo_continuous_camera_lidar"], seed=7)
    prefix = policy.save(tmp_path, "4_Step-812.ckpt")
    observation = observation_for(policy.metadata, seed=5)
    with load_frozen_graph(freeze_checkpoint(prefix, policy.metadata)) as model:
        assert np.max(np.abs(model.predict(observation) - policy.run(observation)[0])) <= 1e-5
    (tmp_path / "4_Step-812.ckpt.meta").unlink()
    with pytest.raises(ConfigError, match=r"4_Step-812\.ckpt\.meta is missing"):
        freeze_checkpoint(prefix, policy.metadata)


def test_freezing_for_the_wrong_sensors_names_the_missing_node():
    policy = build_policy(CASES["ppo_discrete_camera"])
    from markov.model_metadata import parse_model_metadata

    other = parse_model_metadata({**CASES["ppo_discrete_camera"], "sensor": ["FRONT_FACING_CAMERA", "LIDAR"]})
    with pytest.raises(ConfigError, match=r"no node 'main_level/agent/main/online/network_0/LIDAR/LIDAR'"):
        freeze_session(policy.session, other)


def test_garbage_is_not_a_model():
    with pytest.raises(ConfigError, match="not a TensorFlow GraphDef"):
        load_frozen_graph(b"\xff\x00not a graph" * 10)


def test_frozen_graph_loads_with_plain_tensorflow_and_no_rl_coach(camera, tmp_path):
    """The .pb needs nothing but tf.compat.v1: no markov, no rl_coach (as on the car or in a notebook)."""
    name, policy, data, model = camera
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    observation = observation_for(policy.metadata, seed=1)
    np.save(tmp_path / "obs.npy", observation["FRONT_FACING_CAMERA"])
    expected = model.predict(observation)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["rl_coach"] = None          # any import of rl_coach now fails
        sys.modules["markov"] = None
        import numpy as np
        import tensorflow as tf
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(open({str(pb)!r}, "rb").read())
        with tf.Graph().as_default() as graph:
            tf.compat.v1.import_graph_def(graph_def, name="")
            with tf.compat.v1.Session(graph=graph) as sess:
                out = sess.run("main_level/agent/main/online/network_1/ppo_head_0/policy:0", feed_dict={{
                    "main_level/agent/main/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA:0":
                        np.load({str(tmp_path / 'obs.npy')!r})[None]}})
        np.save({str(tmp_path / 'out.npy')!r}, out[0])
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    assert np.max(np.abs(np.load(tmp_path / "out.npy") - expected)) <= 1e-6


def test_the_loader_module_does_not_import_rl_coach(camera):
    name, policy, data, _ = camera
    script = (
        "import sys\n"
        "from markov.export.frozen_graph import load_frozen_graph\n"
        "load_frozen_graph(sys.stdin.buffer.read()).output_width\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('rl_coach', 'markov.compat', 'markov.graph.build')))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], input=data, check=True, capture_output=True)
