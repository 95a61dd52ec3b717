"""The trainer's Clipped PPO predicts state values in slices, with the same values as one pass."""
from __future__ import annotations

import json

import numpy as np
import pytest
from graph_fixtures import GOLDEN_DIR, build_graph

from markov.graph.ppo_agent import (
    PREDICTION_CHUNK,
    DeepRacerClippedPPOAgent,
    explained_variance,
    predict_in_chunks,
)


def test_slices_join_like_one_call():
    calls = []

    def predict(inputs, squeeze_output=True):
        rows = inputs["x"]
        calls.append(len(rows))
        return [rows * 2.0, (rows[:, :1], np.ones(3))]  # a batch output, a nested pair, a batch-free value

    inputs = {"x": np.arange(20, dtype=np.float32).reshape(10, 2)}
    joined = predict_in_chunks(predict, 4, inputs)
    whole = predict(inputs)
    assert calls[:3] == [4, 4, 2]
    np.testing.assert_array_equal(joined[0], whole[0])
    np.testing.assert_array_equal(joined[1][0], whole[1][0])
    np.testing.assert_array_equal(joined[1][1], np.ones(3))


def test_coach_network_values_equal_in_slices(tmp_path):
    golden = json.loads((GOLDEN_DIR / "cam_shallow_ppo.json").read_text())
    manager, _ = build_graph(golden["model_metadata"], experiment_path=tmp_path)
    agent = manager.get_agent()
    assert isinstance(agent, DeepRacerClippedPPOAgent)
    network = agent.networks["main"].online_network
    rows = PREDICTION_CHUNK * 2 + 7
    frames = np.random.default_rng(0).integers(0, 255, (rows, 120, 160, 1), dtype=np.uint8)
    inputs = {"FRONT_FACING_CAMERA": frames}
    whole = network.predict(inputs)
    sliced = predict_in_chunks(network.predict, PREDICTION_CHUNK, inputs)
    assert len(whole) == len(sliced)
    for full, part in zip(whole, sliced):
        np.testing.assert_allclose(part, full, rtol=1e-5, atol=1e-6)
    assert len(whole[0]) == rows


def test_explained_variance_formula():
    targets = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(targets, targets) == 1.0
    assert explained_variance(np.full(4, targets.mean()), targets) == 0.0
    assert explained_variance(-targets, targets) < 0
    assert explained_variance(targets, np.ones(4)) is None  # constant returns: undefined


def test_diagnostics_explained_variance_and_clip_fraction(tmp_path):
    from rl_coach.core_types import Batch, Transition

    rng = np.random.default_rng(3)
    metadata = {"sensor": ["FRONT_FACING_CAMERA"], "version": "5",
                "action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, 0, 30)]}
    manager, _ = build_graph(metadata, {"batch_size": 8, "lr": 0.05}, experiment_path=tmp_path)
    try:
        agent = manager.get_agent()
        states = [{"FRONT_FACING_CAMERA": rng.integers(0, 256, (120, 160, 1), dtype=np.uint8)} for _ in range(33)]
        transitions = [Transition(state=states[i], action=int(rng.integers(0, 3)), reward=float(rng.normal()),
                                  next_state=states[i + 1], game_over=i in (15, 31)) for i in range(32)]
        for transition in transitions:
            transition.n_step_discounted_rewards = transition.reward
        batch = Batch(transitions)
        predicted = agent.networks["main"].online_network.predict(batch.states(["FRONT_FACING_CAMERA"]))[0].reshape(-1)
        agent.fill_advantages(batch)
        expected = explained_variance(predicted, batch.info("gae_based_value_target"))
        assert agent.explained_variance.get_mean() == pytest.approx(expected, rel=1e-5)
        assert expected < 1.0

        agent.train_network(batch, 3)
        fraction = agent.clip_fraction.get_mean()
        ratios = np.concatenate(agent.likelihood_ratio.values)
        assert fraction == pytest.approx(np.mean(np.abs(ratios - 1.0) > 0.2 + 1e-7), abs=1e-6)
        assert 0.0 < fraction < 1.0  # lr 0.05 moves the policy past the 0.2 clip within 3 epochs
    finally:
        manager.sess.close()
