"""--redis_protocol 2020: checkpoints a 2020-generation rollout restores with rl-coach 1.0.1's own saver.

A 2020 rollout runs Coach unpatched: its ``GlobalVariableSaver`` reads every tensor of the
checkpoint and then looks up every global non-target variable of its graph by name, optimizer
slots and ``global_step`` included; one missing name is a KeyError (docs/protocol.md §3.4). Its
graph (the 2020 image's ClippedPPO on the ``observation`` camera, docs/protocol.md §3.3) stacks
``stack_size`` frames (§1.4).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rl_coach.core_types import Batch, Transition

from markov.graph.manager import build_graph_manager, create_graph
from markov.hyperparameters import parse_hyperparameters
from markov.model_metadata import parse_model_metadata

# What a 2020 model_metadata.json holds: an action space only (version 1, the `observation` camera, §2).
METADATA = parse_model_metadata({"action_space": [{"steering_angle": a, "speed": s, "index": i} for i, (a, s) in
                                                  enumerate(((-30, 0.8), (-15, 0.8), (0, 0.8), (15, 0.8), (30, 0.8), (0, 0.4)))]})
HYPERPARAMETERS = parse_hyperparameters({"stack_size": 3, "batch_size": 8})
POLICY = "main_level/agent/main/online/network_1/ppo_head_0/policy:0"
INPUT = "main_level/agent/main/online/network_0/observation/observation:0"


def graph(tmp_path, name: str, seed: int, every_global: bool = True):
    manager = build_graph_manager(METADATA, HYPERPARAMETERS, stack_size=3, checkpoint_every_global=every_global)
    return create_graph(manager, experiment_path=tmp_path / name, use_cpu=True, seed=seed)


def coach_saver(manager):
    """rl-coach 1.0.1's own saver, made inside the rollout's graph as Coach makes it."""
    from rl_coach.architectures.tensorflow_components.savers import GlobalVariableSaver

    with manager.graph.as_default():
        return GlobalVariableSaver("main")


def frames(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (120, 160, 3)).astype(np.uint8)


def trainer_graph(tmp: Path, protocol: str):
    """The graph as the trainer builds it (``markov.training.loop._build_graph``) under ``--redis_protocol``."""
    from markov.training import loop

    config = SimpleNamespace(redis=SimpleNamespace(protocol=protocol), seed=1, precision="fp32",
                             model_dir=tmp / "model", checkpoint_dir=tmp / "checkpoint")
    manager, _ = loop._build_graph(METADATA, HYPERPARAMETERS, config, None)
    return manager


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainer")
    manager = trainer_graph(tmp, "2020")
    path = str(tmp / "agent" / "0_Step-0.ckpt")
    manager.checkpoint_saver.save(manager.sess, path)
    yield manager, path
    manager.sess.close()


def test_the_graph_stacks_stack_size_frames(trainer):
    manager, _ = trainer
    assert manager.graph.get_tensor_by_name(INPUT).shape.as_list() == [None, 120, 160, 3]
    kernel = manager.checkpoint_saver.variables["main_level/agent/main/online/network_0/observation/Conv2d_0/kernel"]
    assert kernel.shape.as_list() == [8, 8, 3, 32]  # the 2020 first kernel [8, 8, stack_size, 32] (§3.3)


def test_checkpoint_holds_optimizer_slots_and_global_step(trainer):
    import tensorflow as tf

    _, path = trainer
    names = set(dict(tf.train.list_variables(path)))
    assert any(name.endswith("/global_step") for name in names)
    assert any(name.endswith("/Adam") for name in names) and any(name.endswith("/Adam_1") for name in names)
    assert not [name for name in names if "/target" in name]


def test_a_2020_rollout_restores_it_with_coachs_own_saver_and_acts(trainer, tmp_path):
    from markov.rollout.policy import CoachPolicy

    manager, path = trainer
    rollout = graph(tmp_path, "rollout", seed=2)  # other initial weights
    try:
        feed = {INPUT: frames(3)[None].astype(np.float32)}
        assert not np.allclose(rollout.sess.run(POLICY, feed), manager.sess.run(POLICY, feed))
        coach_saver(rollout).restore(rollout.sess, path)  # raises KeyError on any variable the checkpoint lacks
        np.testing.assert_allclose(rollout.sess.run(POLICY, feed), manager.sess.run(POLICY, feed), atol=1e-6)
        decision = CoachPolicy(rollout, METADATA).act({"observation": frames(4)})
        assert 0 <= int(decision.env_action) < METADATA.num_actions
    finally:
        rollout.sess.close()


def test_a_current_mode_checkpoint_is_what_the_2020_saver_cannot_restore(tmp_path):
    """The failure the issue saw: the image's trainable-only set lacks global_step and the slots."""
    current = graph(tmp_path, "current", seed=1, every_global=False)
    rollout = graph(tmp_path, "rollout", seed=2)
    try:
        path = str(tmp_path / "agent" / "0_Step-0.ckpt")
        current.checkpoint_saver.save(current.sess, path)
        with pytest.raises(KeyError, match="global_step|Adam|beta"):
            coach_saver(rollout).restore(rollout.sess, path)
    finally:
        current.sess.close()
        rollout.sess.close()


def test_the_current_protocol_keeps_one_frame_and_the_images_saver(tmp_path):
    """stack_size and every-global checkpoints are for 2020 rollouts only: the current image expects neither."""
    manager = trainer_graph(tmp_path, "current")
    try:
        assert manager.graph.get_tensor_by_name(INPUT).shape.as_list() == [None, 120, 160, 1]
        saved = manager.checkpoint_saver.variables
        assert not [name for name in saved if name.endswith("global_step") or "/Adam" in name]
    finally:
        manager.sess.close()


def test_the_trainer_trains_on_stacked_frames(trainer):
    """stack_size 3 used to crash after the first fetch: Cannot feed value of shape (128, 120, 160, 3)."""
    manager, _ = trainer
    rng = np.random.default_rng(5)
    transitions = [Transition(state={"observation": frames(i)}, action=int(rng.integers(0, 6)), reward=1.0,
                              next_state={"observation": frames(i + 1)}, game_over=i == 15) for i in range(16)]
    for transition in transitions:
        transition.n_step_discounted_rewards = 1.0
    agent = manager.get_agent()
    batch = Batch(transitions)
    agent.fill_advantages(batch)
    assert np.all(np.isfinite(agent.train_network(batch, 1)))
