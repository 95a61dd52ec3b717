"""The image-named heads train under Coach's own agents (one optimisation step each)."""
from __future__ import annotations

import numpy as np
import pytest
from rl_coach.core_types import Batch, Transition

from graph_fixtures import build_graph

ACTIONS = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3}}
MODELS = {
    "ppo_discrete": {"action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, 0, 30)]},
    "ppo_continuous": {"action_space": ACTIONS, "action_space_type": "continuous"},
    "sac": {"action_space": ACTIONS, "action_space_type": "continuous", "training_algorithm": "sac"},
}
WATCHED = {
    "ppo_discrete": "main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel",
    "ppo_continuous": "main_level/agent/main/online/network_1/ppo_head_0/policy_mean/kernel",
    "sac": "main_level/agent/policy/online/network_0/sac_policy_head_0/policy_mean/kernel",
}


def observation(rng) -> dict:
    return {"FRONT_FACING_CAMERA": rng.integers(0, 256, (120, 160, 1)).astype(np.uint8),
            "LIDAR": rng.uniform(0.15, 1.0, 64)}


def action(rng, model: str):
    if model == "ppo_discrete":
        return int(rng.integers(0, 3))
    if model == "ppo_continuous":
        return rng.uniform(-1, 1, 2)
    return np.array([rng.uniform(-30, 30), rng.uniform(0.5, 3)])


@pytest.mark.parametrize("model", list(MODELS))
def test_one_training_step_changes_the_policy(model, tmp_path):
    rng = np.random.default_rng(1)
    metadata = {**MODELS[model], "sensor": ["FRONT_FACING_CAMERA", "LIDAR"], "version": "5"}
    manager, _ = build_graph(metadata, {"batch_size": 8}, experiment_path=tmp_path)
    try:
        agent = manager.get_agent()
        transitions = [Transition(state=observation(rng), action=action(rng, model), reward=1.0,
                                  next_state=observation(rng), game_over=i == 15) for i in range(16)]
        for transition in transitions:
            transition.n_step_discounted_rewards = 1.0
        watched = manager.checkpoint_saver.variables[WATCHED[model]]
        before = manager.sess.run(watched)
        batch = Batch(transitions)
        if model == "sac":
            losses = agent.learn_from_batch(batch)[1]
        else:
            agent.fill_advantages(batch)
            losses = agent.train_network(batch, 1)
        assert np.all(np.isfinite(losses))
        assert not np.array_equal(manager.sess.run(watched), before)
        if model == "sac":  # sampled actions are squashed and rescaled into the model's bounds
            steering, speed = agent.choose_action(observation(rng)).action
            assert -30 <= steering <= 30 and 0.5 <= speed <= 3
    finally:
        manager.sess.close()
