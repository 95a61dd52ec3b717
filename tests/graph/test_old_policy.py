"""Training epochs take the old policy from the value pass: the same training as Coach's per-mini-batch target passes."""
from __future__ import annotations

import random

import numpy as np
import pytest

import markov.compat  # noqa: F401  (must precede rl_coach)
from rl_coach.core_types import Batch, Transition

from graph_fixtures import build_graph
from markov.graph import ppo_agent
from markov.graph.ppo_agent import OLD_POLICY_INFO, DeepRacerClippedPPOAgent

CAMERA = "FRONT_FACING_CAMERA"
DISCRETE = {"sensor": [CAMERA], "version": "5", "training_algorithm": "clipped_ppo",
            "action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, 0, 30)]}
CONTINUOUS = {"sensor": [CAMERA], "version": "5", "training_algorithm": "clipped_ppo", "action_space_type": "continuous",
              "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3}}}
BATCH_SIZE, ROWS, EPOCHS = 16, 53, 3  # 3 mini-batches an epoch; 5 rows Coach leaves out


def _transitions(continuous: bool) -> list[Transition]:
    rng = np.random.default_rng(7)
    states = [{CAMERA: rng.integers(0, 256, (120, 160, 1), dtype=np.uint8)} for _ in range(ROWS + 1)]
    transitions = []
    for i in range(ROWS):
        action = rng.uniform(-1, 1, 2).astype(np.float32) if continuous else int(rng.integers(0, 3))
        transitions.append(Transition(state=states[i], action=action, reward=float(rng.normal()),
                                      next_state=states[i + 1], game_over=i in (20, ROWS - 1)))
        transitions[-1].n_step_discounted_rewards = transitions[-1].reward
    return transitions


def _count_target_predicts(monkeypatch, manager) -> list[int]:
    """Count the forward passes that reach the target network's session."""
    target = manager.get_agent().networks["main"].target_network
    calls = [0]
    real = type(target).predict

    def counting(self, *args, **kwargs):
        if self is target:
            calls[0] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(target), "predict", counting)
    return calls


@pytest.mark.parametrize("metadata", [DISCRETE, CONTINUOUS], ids=["discrete", "continuous"])
def test_epochs_train_as_with_the_target_networks_passes(tmp_path, monkeypatch, metadata):
    continuous = metadata is CONTINUOUS
    results = {}
    for variant in ("value pass", "target passes"):
        manager, _ = build_graph(metadata, {"batch_size": BATCH_SIZE, "lr": 0.003},
                                 experiment_path=tmp_path / variant.replace(" ", "-"), seed=0)
        try:
            agent = manager.get_agent()
            assert isinstance(agent, DeepRacerClippedPPOAgent)
            if variant == "target passes":  # nothing stored: every mini-batch asks the target network, as in Coach
                monkeypatch.setattr(DeepRacerClippedPPOAgent, "_keep_old_policy", lambda self, batch, outputs: None)
            calls = _count_target_predicts(monkeypatch, manager)
            agent.networks["main"].sync()
            random.seed(0)  # Batch.shuffle
            np.random.seed(0)
            batch = Batch(_transitions(continuous))
            before = manager.sess.run(agent.networks["main"].online_network.weights)
            agent.fill_advantages(batch)
            stored = sum(OLD_POLICY_INFO in t.info for t in batch.transitions)
            first = len(agent.kl_divergence.values)
            losses = agent.train_network(batch, EPOCHS)
            network = agent.networks["main"].online_network
            weights = manager.sess.run(network.weights)
            results[variant] = dict(losses=np.asarray(losses, dtype=np.float64), stored=stored, target_calls=calls[0],
                                    kl=agent.kl_divergence.values[first:], entropy=agent.entropy.values[-1],
                                    weights=weights, before=before)
            monkeypatch.undo()
        finally:
            manager.sess.close()

    ours, coach = results["value pass"], results["target passes"]
    assert coach["stored"] == 0 and coach["target_calls"] == EPOCHS * (ROWS // BATCH_SIZE)
    assert ours["stored"] == ROWS and ours["target_calls"] == 0  # no old-policy pass at all
    np.testing.assert_allclose(ours["losses"], coach["losses"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours["kl"], coach["kl"], rtol=1e-3, atol=1e-7)
    assert ours["entropy"] == pytest.approx(coach["entropy"], rel=1e-5)
    assert ours["kl"][-1] > 0  # the policy moved, so the comparison says something
    # Adam turns last-digit differences of tiny gradients into ~1e-4 steps; the weights moved 100x more.
    assert max(float(np.abs(w - b).max()) for w, b in zip(ours["weights"], ours["before"])) > 1e-2
    for mine, theirs in zip(ours["weights"], coach["weights"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=2e-4)


def test_rows_out_of_order_go_to_the_real_predict():
    """A mini-batch that is not the rows it expects is answered by the network, never from the wrong rows."""
    transitions = _transitions(continuous=False)
    for row, transition in enumerate(transitions):
        transition.info[OLD_POLICY_INFO] = (np.full(3, float(row)),)
    batch = Batch(transitions)
    asked = []

    def real(inputs):
        asked.append(len(inputs[CAMERA]))
        return [None, np.zeros((len(inputs[CAMERA]), 3))]

    stand_in = ppo_agent.OldPolicyFromValuePass(real, batch, BATCH_SIZE, [CAMERA])
    states = batch.states([CAMERA])[CAMERA]
    first = stand_in({CAMERA: states[0:16]})
    np.testing.assert_array_equal(first[1][:, 0], np.arange(16.0))
    second = stand_in({CAMERA: states[32:48]})  # Coach would pass rows 16..31 now
    assert asked == [16] and not second[1].any()
    third = stand_in({CAMERA: states[32:48]})  # the third call of the epoch: rows 32..47, answered
    np.testing.assert_array_equal(third[1][:, 0], np.arange(32.0, 48.0))
    fourth = stand_in({CAMERA: states[0:16]})  # the next epoch starts again at row 0
    np.testing.assert_array_equal(fourth[1][:, 0], np.arange(16.0))
    assert asked == [16]  # only the out-of-order call reached the network


def test_a_new_value_pass_replaces_stored_outputs(tmp_path):
    manager, _ = build_graph(DISCRETE, {"batch_size": BATCH_SIZE}, experiment_path=tmp_path, seed=0)
    try:
        agent = manager.get_agent()
        batch = Batch(_transitions(continuous=False))
        for transition in batch.transitions:
            transition.info[OLD_POLICY_INFO] = (np.full(3, -1.0),)  # an earlier sync's
        agent.networks["main"].sync()
        agent.fill_advantages(batch)
        stored = np.stack([t.info[OLD_POLICY_INFO][0] for t in batch.transitions])
        expected = agent.networks["main"].target_network.predict(batch.states([CAMERA]))[1]
        np.testing.assert_allclose(stored, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stored.sum(axis=1), 1.0, rtol=1e-5)  # action probabilities
    finally:
        manager.sess.close()
