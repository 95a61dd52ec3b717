"""The in-graph training step and target update compute what Coach's NumPy round trips do, with no new variable."""
from __future__ import annotations

import random

import numpy as np
import pytest

import markov.compat  # noqa: F401  (must precede rl_coach)
from rl_coach.core_types import Batch, Transition

from graph_fixtures import build_graph
from markov.graph import contract
from markov.model_metadata import parse_model_metadata

CAMERA = "FRONT_FACING_CAMERA"
PPO = {"sensor": [CAMERA], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "version": "5",
       "action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, 0, 30)]}


def _transitions(seed: int, count: int = 32) -> list[Transition]:
    rng = np.random.default_rng(seed)
    transitions = []
    for i in range(count):
        action = int(rng.integers(0, 3))
        transitions.append(Transition(
            state={CAMERA: rng.integers(0, 256, (120, 160, 1), dtype=np.uint8)}, action=action,
            reward=float(rng.random()), next_state={CAMERA: rng.integers(0, 256, (120, 160, 1), dtype=np.uint8)},
            game_over=i == count - 1, info={"all_action_probabilities": rng.dirichlet(np.ones(3)), "action": action}))
    for transition in transitions:
        transition.n_step_discounted_rewards = transition.reward  # what the episode's end would compute
    return transitions


def _train_ppo(manager, epochs: int = 2) -> list[float]:
    """Two Clipped PPO epochs on one batch (the agent's own train_network); returns the losses."""
    agent = manager.get_agent()
    agent.networks["main"].sync()
    random.seed(0)  # Batch.shuffle
    np.random.seed(0)
    batch = Batch(_transitions(0))
    agent.fill_advantages(batch)
    return list(agent.train_network(batch, epochs))


def _online_weights(manager, which: str = "online_network") -> dict[str, np.ndarray]:
    network = getattr(manager.get_agent().networks["main"], which)
    return dict(zip((w.op.name.replace("/target/", "/online/") for w in network.weights),
                    manager.sess.run(network.weights)))


@pytest.fixture(scope="module")
def ppo_managers(tmp_path_factory):
    """Two PPO graphs with the same seeded weights; Coach's own step restored on the second."""
    one_run, _ = build_graph(PPO, {"batch_size": 16}, experiment_path=tmp_path_factory.mktemp("one"), seed=0)
    coach, _ = build_graph(PPO, {"batch_size": 16}, experiment_path=tmp_path_factory.mktemp("coach"), seed=0)
    wrapper = coach.get_agent().networks["main"]
    # back to Coach's class methods
    del wrapper.train_and_sync_networks, wrapper.online_network.train_on_batch, wrapper.update_target_network
    yield one_run, coach
    one_run.sess.close()
    coach.sess.close()


def test_one_run_step_updates_weights_as_coachs_two_runs(ppo_managers):
    one_run, coach = ppo_managers
    before = _online_weights(one_run)
    assert all(np.array_equal(before[name], value) for name, value in _online_weights(coach).items())
    one_run_losses = _train_ppo(one_run)
    coach_losses = _train_ppo(coach)
    np.testing.assert_allclose(one_run_losses, coach_losses, rtol=1e-4)
    after, expected = _online_weights(one_run), _online_weights(coach)
    assert any(not np.array_equal(after[name], before[name]) for name in after)
    for name, value in expected.items():
        np.testing.assert_allclose(after[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
    # the one-run step keeps no NumPy copy of the gradients
    assert not one_run.get_agent().networks["main"].online_network.accumulated_gradients
    assert one_run.sess.run(one_run.get_agent().networks["main"].online_network.global_step) == \
        coach.sess.run(coach.get_agent().networks["main"].online_network.global_step)


@pytest.mark.parametrize("rate", [0.25, 1.0])
def test_target_update_blends_as_coach_does(ppo_managers, rate):
    in_graph, coach = ppo_managers
    _train_ppo(in_graph, epochs=1)  # online and target differ now
    _train_ppo(coach, epochs=1)
    online, target = _online_weights(in_graph), _online_weights(in_graph, "target_network")
    for manager in ppo_managers:
        manager.get_agent().networks["main"].update_target_network(rate)
    updated, expected = _online_weights(in_graph, "target_network"), _online_weights(coach, "target_network")
    for name in online:
        np.testing.assert_allclose(updated[name], rate * online[name] + (1 - rate) * target[name], rtol=1e-5,
                                   atol=1e-7, err_msg=name)
        np.testing.assert_allclose(updated[name], expected[name], rtol=1e-4, atol=1e-6, err_msg=name)
    if rate == 1.0:
        assert all(np.array_equal(updated[name], online[name]) for name in online)


def test_the_update_creates_no_variable(ppo_managers):
    """A variable made by the update would have missed Coach's initializer, which runs before any training."""
    import tensorflow as tf

    manager, _ = ppo_managers
    with manager.graph.as_default():
        uninitialised = tf.compat.v1.report_uninitialized_variables()
    assert manager.sess.run(uninitialised).size == 0
    assert manager.checkpoint_saver.variable_shapes() == contract.checkpoint_variables(parse_model_metadata(PPO))


def test_graphdef_pb_is_written_without_the_update(tmp_path):
    import tensorflow as tf

    manager, _ = build_graph(PPO, experiment_path=tmp_path, checkpoint_save_dir=tmp_path / "agent")
    try:
        written = tf.compat.v1.GraphDef.FromString((tmp_path / "agent" / "graphdef.pb").read_bytes())
        names = {node.name for node in written.node}
        assert "main_level/agent/main/online/network_1/ppo_head_0/policy" in names
        for scope in ("in_graph_train_step", "in_graph_update"):
            assert not any(scope in name for name in names)
            assert any(scope in node.name for node in manager.graph.as_graph_def().node)
    finally:
        manager.sess.close()
