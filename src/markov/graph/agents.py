"""Coach agent parameters for a model, set the way the simulation image sets them.

The mapping from hyperparameters to Coach parameters, and the values that are fixed, follow
the image's graph manager (docs/protocol.md §1.4): rollout workers build their agents from the same
``ip/hyperparameters.json``, so a trainer that read a key differently would train one policy
while the cars drive another. Networks are built from :mod:`markov.graph.layer_tables`.
"""
from __future__ import annotations

import markov.compat  # noqa: F401  (must precede every rl_coach module that imports TensorFlow)
from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.agents.soft_actor_critic_agent import SoftActorCriticAgentParameters
from rl_coach.architectures import layers as coach_layers
from rl_coach.architectures.embedder_parameters import InputEmbedderParameters
from rl_coach.architectures.head_parameters import VHeadParameters
from rl_coach.architectures.middleware_parameters import FCMiddlewareParameters
from rl_coach.base_parameters import AgentParameters, DistributedCoachSynchronizationType, MiddlewareScheme
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.exploration_policies.additive_noise import AdditiveNoiseParameters
from rl_coach.exploration_policies.categorical import CategoricalParameters
from rl_coach.exploration_policies.e_greedy import EGreedyParameters
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.memories.memory import MemoryParameters
from rl_coach.memories.non_episodic.experience_replay import ExperienceReplayParameters
from rl_coach.schedules import LinearSchedule
from rl_coach.spaces import BoxActionSpace, DiscreteActionSpace

from markov.graph import contract, layer_tables
from markov.graph.ppo_agent import DeepRacerClippedPPOAgentParameters
from markov.graph.heads import (
    DeepRacerPPOHeadParameters,
    DeepRacerSACPolicyHeadParameters,
    DeepRacerSACQHeadParameters,
)
from markov.hyperparameters import HyperParameters
from markov.model_metadata import CLIPPED_PPO, SAC, ModelMetadata

# Fixed values of the image (§1.4), not configurable there either.
PPO_CLIP_EPSILON = 0.2
PPO_GAE_LAMBDA = 0.95
ADAM_EPSILON = 1e-5
ADAM_BETA2 = 0.999
SAC_TAU = 1.0
EVALUATION_PERIOD_EPISODES = 40
EVALUATION_EPISODES = 5


def _coach_layer(layer: layer_tables.Layer) -> coach_layers.Conv2d | coach_layers.Dense:
    if isinstance(layer, layer_tables.Conv):
        return coach_layers.Conv2d(num_filters=layer.filters, kernel_size=layer.kernel, strides=layer.stride)
    return coach_layers.Dense(units=layer.units)


def input_embedders(metadata: ModelMetadata) -> dict[str, InputEmbedderParameters]:
    """One ``scheme`` embedder per sensor key, from the layer tables (§3.2)."""
    return {
        sensor: InputEmbedderParameters(
            scheme=[_coach_layer(layer) for layer in layer_tables.embedder_layers(sensor, metadata.neural_network)],
            activation_function=layer_tables.ACTIVATION,
        )
        for sensor in metadata.sensors
    }


def middleware(metadata: ModelMetadata) -> FCMiddlewareParameters:
    """The ``middleware_fc_embedder`` for the model's network (§3.2)."""
    return FCMiddlewareParameters(
        scheme=[_coach_layer(layer) for layer in layer_tables.middleware_layers(metadata.neural_network)],
        activation_function=layer_tables.ACTIVATION,
    )


def _optimizer_settings(network, hyperparameters: HyperParameters) -> None:
    network.learning_rate = hyperparameters.lr
    network.batch_size = hyperparameters.batch_size
    network.optimizer_type = "Adam"
    network.optimizer_epsilon = ADAM_EPSILON
    network.adam_optimizer_beta2 = ADAM_BETA2
    network.replace_mse_with_huber_loss = hyperparameters.loss_type == "huber"


def _exploration(hyperparameters: HyperParameters) -> dict:
    if hyperparameters.exploration_type == "e-greedy":
        discrete = EGreedyParameters()
        discrete.epsilon_schedule = LinearSchedule(1.0, hyperparameters.e_greedy_value, hyperparameters.epsilon_steps)
    else:
        discrete = CategoricalParameters()
    return {DiscreteActionSpace: discrete, BoxActionSpace: AdditiveNoiseParameters()}


def clipped_ppo_parameters(metadata: ModelMetadata, hyperparameters: HyperParameters,
                           memory: MemoryParameters | None = None) -> ClippedPPOAgentParameters:
    """Clipped PPO: wrapper ``main``, V head on network_0, policy head on network_1 (§3.3)."""
    params = DeepRacerClippedPPOAgentParameters()
    network = params.network_wrappers[contract.PPO_WRAPPER]
    network.input_embedders_parameters = input_embedders(metadata)
    network.middleware_parameters = middleware(metadata)
    network.heads_parameters = [VHeadParameters(), DeepRacerPPOHeadParameters()]
    _optimizer_settings(network, hyperparameters)

    algorithm = params.algorithm
    algorithm.clip_likelihood_ratio_using_epsilon = PPO_CLIP_EPSILON
    algorithm.beta_entropy = hyperparameters.beta_entropy
    algorithm.gae_lambda = PPO_GAE_LAMBDA
    algorithm.discount = hyperparameters.discount_factor
    algorithm.optimization_epochs = hyperparameters.num_epochs
    algorithm.estimate_state_value_using_gae = True
    episodes = hyperparameters.num_episodes_between_training
    algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentEpisodes(episodes)
    algorithm.num_consecutive_playing_steps = EnvironmentEpisodes(episodes)
    algorithm.distributed_coach_synchronization_type = DistributedCoachSynchronizationType.SYNC

    params.exploration = _exploration(hyperparameters)
    if memory is not None:
        params.memory = memory
    return params


def sac_parameters(metadata: ModelMetadata, hyperparameters: HyperParameters,
                   memory: MemoryParameters | None = None) -> SoftActorCriticAgentParameters:
    """SAC: wrappers ``policy``, ``q`` (no middleware) and ``v`` (with a target copy) (§3.3)."""
    params = SoftActorCriticAgentParameters()
    for name in (contract.SAC_POLICY_WRAPPER, contract.SAC_Q_WRAPPER, contract.SAC_V_WRAPPER):
        network = params.network_wrappers[name]
        network.input_embedders_parameters = input_embedders(metadata)
        if name == contract.SAC_Q_WRAPPER:
            network.middleware_parameters = FCMiddlewareParameters(scheme=MiddlewareScheme.Empty)
        else:
            network.middleware_parameters = middleware(metadata)
        _optimizer_settings(network, hyperparameters)
    params.network_wrappers[contract.SAC_POLICY_WRAPPER].heads_parameters = [
        DeepRacerSACPolicyHeadParameters(sac_alpha=hyperparameters.sac_alpha, rescale_action_values=True)]
    params.network_wrappers[contract.SAC_Q_WRAPPER].heads_parameters = [DeepRacerSACQHeadParameters()]
    params.network_wrappers[contract.SAC_V_WRAPPER].heads_parameters = [VHeadParameters(initializer="xavier")]

    algorithm = params.algorithm
    algorithm.discount = hyperparameters.discount_factor
    algorithm.num_steps_between_copying_online_weights_to_target = \
        EnvironmentSteps(hyperparameters.num_episodes_between_training)
    algorithm.distributed_coach_synchronization_type = DistributedCoachSynchronizationType.SYNC
    algorithm.rate_for_copying_weights_to_target = SAC_TAU
    algorithm.use_deterministic_for_evaluation = True
    params.memory = memory if memory is not None else ExperienceReplayParameters()
    return params


def agent_parameters(metadata: ModelMetadata, hyperparameters: HyperParameters,
                     memory: MemoryParameters | None = None) -> AgentParameters:
    """The agent parameters for ``metadata.training_algorithm``.

    Args:
        metadata: the parsed model_metadata.json.
        hyperparameters: the parsed hyperparameters.
        memory: replaces the agent's default memory (Coach's episodic replay for PPO,
            ``ExperienceReplay`` for SAC, as on the image's trainer).
    """
    if metadata.training_algorithm == CLIPPED_PPO:
        return clipped_ppo_parameters(metadata, hyperparameters, memory)
    if metadata.training_algorithm == SAC:
        return sac_parameters(metadata, hyperparameters, memory)
    raise KeyError(metadata.training_algorithm)


def schedule_parameters(hyperparameters: HyperParameters) -> ScheduleParameters:
    """``term_cond_max_episodes`` counts *training iterations* (§1.4), hence TrainingSteps."""
    schedule = ScheduleParameters()
    schedule.improve_steps = TrainingSteps(hyperparameters.term_cond_max_episodes)
    schedule.steps_between_evaluation_periods = EnvironmentEpisodes(EVALUATION_PERIOD_EPISODES)
    schedule.evaluation_steps = EnvironmentEpisodes(EVALUATION_EPISODES)
    schedule.heatup_steps = EnvironmentSteps(0)
    return schedule
