"""The trainer's Clipped PPO predicts state values in slices, with the same values as one pass."""
from __future__ import annotations

import json

import numpy as np

from graph_fixtures import GOLDEN_DIR, build_graph
from markov.graph.ppo_agent import DeepRacerClippedPPOAgent, PREDICTION_CHUNK, predict_in_chunks


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
