"""The export against real Coach graphs built by markov.graph: what the car gets is what Coach computes.

One graph build per algorithm (about 2 s each). The checkpoint is saved with the trainer's own
saver, packed into the car archive, read back without Coach, and run on the same input as the
live Coach session; outputs agree to 1e-5.
"""
import json

import numpy as np
import pytest

from markov.export import archives
from markov.export.frozen_graph import freeze_session, load_frozen_graph
from markov.export.model_export import export_car, open_model_folder
from markov.graph import contract
from markov.hyperparameters import parse_hyperparameters
from markov.model_metadata import parse_model_metadata
from policy_graphs import observation_for

PPO = {
    "action_space": [{"steering_angle": a, "speed": s} for a, s in ((-30, 0.6), (0, 1.2), (30, 0.6), (15, 1.0))],
    "sensor": ["FRONT_FACING_CAMERA", "LIDAR"], "training_algorithm": "clipped_ppo", "version": "5",
}
SAC = {
    "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3.0}},
    "action_space_type": "continuous", "sensor": ["FRONT_FACING_CAMERA"], "training_algorithm": "sac", "version": "4",
}


@pytest.fixture(scope="module", params=["ppo", "sac"])
def coach_run(request, tmp_path_factory):
    from markov.graph.manager import build_graph_manager, create_graph

    raw = PPO if request.param == "ppo" else SAC
    metadata = parse_model_metadata(raw)
    root = tmp_path_factory.mktemp(request.param)
    model_dir = root / "model"
    manager = build_graph_manager(metadata, parse_hyperparameters({}))
    create_graph(manager, experiment_path=root / "experiment", use_cpu=True)
    manager.checkpoint_saver.save(manager.sess, str(model_dir / "0_Step-0.ckpt"))
    (model_dir / ".coach_checkpoint").write_text("0_Step-0.ckpt")
    (model_dir / "model_metadata.json").write_text(json.dumps(raw))
    yield metadata, manager, root
    manager.sess.close()


def coach_policy(manager, metadata, observation):
    """The policy output as the live Coach session computes it."""
    feed = {f"{contract.input_placeholder_name(metadata.training_algorithm, s)}:0": observation[s][None] for s in metadata.sensors}
    return manager.sess.run(contract.policy_output_name(metadata.training_algorithm) + ":0", feed_dict=feed)[0]


def test_car_archive_from_a_coach_checkpoint_matches_the_coach_policy(coach_run, tmp_path):
    metadata, manager, root = coach_run
    export_car(open_model_folder(str(root)), tmp_path / "car.tar.gz", "last")
    car = archives.read_car_model(tmp_path / "car.tar.gz")
    observation = observation_for(metadata, seed=9)
    with load_frozen_graph(car.frozen_model) as model:
        archives.check_frozen_model_matches(model, car.metadata, "car.tar.gz")
        assert np.max(np.abs(model.predict(observation) - coach_policy(manager, metadata, observation))) <= 1e-5
        assert model.outputs == [contract.policy_output_name(metadata.training_algorithm)]  # the image's one output
        ops = {n.op for n in model.graph_def.node}
        assert not ops & {"VariableV2", "VarHandleOp", "ApplyAdam", "RandomStandardNormal"}


def test_freeze_session_is_what_the_trainer_publishes(coach_run):
    metadata, manager, _ = coach_run
    observation = observation_for(metadata, seed=2)
    with load_frozen_graph(freeze_session(manager.sess, metadata, manager.graph)) as model:
        assert sorted(model.inputs) == sorted(metadata.sensors)
        assert np.max(np.abs(model.predict(observation) - coach_policy(manager, metadata, observation))) <= 1e-5
