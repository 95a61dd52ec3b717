"""Acceptance: rl-coach 1.0.1's own Clipped PPO and SAC graphs build, train and checkpoint on TF2."""
from pathlib import Path

import numpy as np
import pytest

import markov.compat  # noqa: F401  (the switch under test)
import tensorflow as tf
from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.agents.soft_actor_critic_agent import SoftActorCriticAgentParameters
from rl_coach.architectures.embedder_parameters import InputEmbedderParameters
from rl_coach.architectures.layers import Conv2d, Dense
from rl_coach.architectures.middleware_parameters import FCMiddlewareParameters
from rl_coach.base_parameters import TaskParameters, VisualizationParameters
from rl_coach.core_types import EnvironmentEpisodes, Episode, Transition
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

from coach_envs import IMAGE_SHAPE

ENVS = Path(__file__).with_name("coach_envs.py")
SCHEME = [Conv2d(32, 8, 4), Conv2d(64, 4, 2), Conv2d(64, 3, 1)]


def _image_network(network, middleware_units=512):
    network.input_embedders_parameters = {
        "observation": InputEmbedderParameters(scheme=list(SCHEME), activation_function="relu")}
    network.middleware_parameters = FCMiddlewareParameters(scheme=[Dense(middleware_units)],
                                                           activation_function="relu")
    network.batch_size = 8


def _graph_manager(agent_params, env_class):
    return BasicRLGraphManager(agent_params=agent_params,
                               env_params=GymVectorEnvironment(level=f"{ENVS}:{env_class}"),
                               schedule_params=ScheduleParameters(), vis_params=VisualizationParameters())


def _ppo_graph_manager():
    agent_params = ClippedPPOAgentParameters()
    _image_network(agent_params.network_wrappers["main"])
    agent_params.algorithm.optimization_epochs = 1
    agent_params.algorithm.num_consecutive_playing_steps = EnvironmentEpisodes(1)
    return _graph_manager(agent_params, "TinyImageEnv")


def _episode(rng, length, action):
    episode = Episode()
    for step in range(length):
        observation = {"observation": rng.randint(0, 256, IMAGE_SHAPE).astype(np.uint8)}
        episode.insert(Transition(state=observation, action=action(step), reward=float(rng.rand()),
                                  next_state=observation, game_over=step == length - 1))
    return episode


def _values(graph_manager):
    variables = tf.compat.v1.trainable_variables()
    return dict(zip([v.op.name for v in variables], graph_manager.sess.run(variables)))


@pytest.fixture
def fresh_graph():
    tf.compat.v1.reset_default_graph()
    yield
    tf.compat.v1.reset_default_graph()


def test_clipped_ppo_builds_trains_saves_and_restores(tmp_path, fresh_graph):
    graph_manager = _ppo_graph_manager()
    graph_manager.create_graph(TaskParameters(checkpoint_save_dir=str(tmp_path)))
    names = {v.op.name: v.get_shape().as_list() for v in tf.compat.v1.trainable_variables()}
    prefix = "main_level/agent/main/online/network_0/"
    assert names[prefix + "observation/Conv2d_0/kernel"] == [8, 8, 1, 32]
    assert names[prefix + "observation/Conv2d_4/bias"] == [64]
    assert names[prefix + "middleware_fc_embedder/Dense_0/kernel"] == [1 * 2 * 64, 512]
    assert names[prefix + "v_values_head_0/output/kernel"] == [512, 1]
    assert names["main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel"] == [512, 5]

    agent = graph_manager.level_managers[0].agents["agent"]
    rng = np.random.RandomState(1)
    for _ in range(2):
        agent.call_memory("store_episode", _episode(rng, 8, lambda step: step % 5))
        agent.current_episode += 1
    before = _values(graph_manager)
    graph_manager.train()
    after = _values(graph_manager)
    changed = [name for name in before if not np.array_equal(before[name], after[name])]
    assert prefix + "observation/Conv2d_0/kernel" in changed
    assert "main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel" in changed

    graph_manager.save_checkpoint()
    assert (tmp_path / ".coach_checkpoint").read_text().startswith("0_Step-")
    graph_manager.close()

    tf.compat.v1.reset_default_graph()
    restored = _ppo_graph_manager()
    restored.create_graph(TaskParameters(checkpoint_restore_path=str(tmp_path)))
    again = _values(restored)
    for name, value in after.items():
        if "/online/" in name:
            np.testing.assert_array_equal(again[name], value, err_msg=name)
    restored.close()


def test_soft_actor_critic_builds_and_trains_one_step(fresh_graph):
    agent_params = SoftActorCriticAgentParameters()
    for name in ("policy", "v"):
        _image_network(agent_params.network_wrappers[name], middleware_units=64)
    q = agent_params.network_wrappers["q"]  # embedders only: the q head appends the action itself
    q.input_embedders_parameters = {
        "observation": InputEmbedderParameters(scheme=list(SCHEME), activation_function="relu")}
    q.batch_size = 8
    agent_params.algorithm.num_consecutive_training_steps = 1
    graph_manager = _graph_manager(agent_params, "TinyContinuousImageEnv")
    graph_manager.create_graph(TaskParameters())
    names = {v.op.name for v in tf.compat.v1.trainable_variables()}
    assert "main_level/agent/policy/online/network_0/sac_policy_head_0/policy_mu_logsig/kernel" in names
    assert "main_level/agent/q/online/network_0/q_values_head_0/q1_head/q1_output/kernel" in names

    agent = graph_manager.level_managers[0].agents["agent"]
    rng = np.random.RandomState(2)
    episode = _episode(rng, 16, lambda step: rng.uniform([-30.0, 0.5], [30.0, 1.0]).astype(np.float32))
    for transition in episode.transitions:  # SAC keeps a non-episodic replay buffer
        agent.call_memory("store", transition)
    agent.total_steps_counter += len(episode.transitions)
    before = _values(graph_manager)
    graph_manager.train()
    after = _values(graph_manager)
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    for network in ("policy", "q", "v"):
        assert any(name.startswith(f"main_level/agent/{network}/online/") for name in changed), network
    graph_manager.close()
