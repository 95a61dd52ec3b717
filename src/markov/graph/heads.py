"""Coach heads that carry the simulation image's names (docs/protocol.md §3.3).

Coach 1.0.1's own heads differ from the image's Coach fork in exactly the places the car and
the rollout workers look at: the continuous PPO policy has no ``policy`` node and an unclipped
log-std, and the SAC heads have other layers altogether (one ``policy_mu_logsig`` layer instead
of a hidden layer with separate mean and log-std layers; Q twins that sum two embeddings instead
of reading ``concat(embedding, action)``). The subclasses here rebuild just those parts, keep
Coach's outputs in the order its agents index them, and name every layer explicitly, so the
names never depend on Keras' process-global layer counter.

The TF1 surface (``tf.layers``, ``tf.contrib.distributions``) is taken from Coach's own head
module, i.e. whatever ``markov.compat`` hands rl_coach, so these heads build exactly like
Coach's.
"""
from __future__ import annotations

import numpy as np

import markov.compat  # noqa: F401  (activates the rl_coach-on-TF2 bridge before rl_coach imports TF)
from rl_coach.architectures.head_parameters import PPOHeadParameters, SACPolicyHeadParameters, SACQHeadParameters
from rl_coach.architectures.tensorflow_components.heads import head as _coach_head
from rl_coach.architectures.tensorflow_components.heads.head import normalized_columns_initializer
from rl_coach.architectures.tensorflow_components.heads.ppo_head import PPOHead
from rl_coach.architectures.tensorflow_components.heads.sac_head import SACPolicyHead
from rl_coach.architectures.tensorflow_components.heads.sac_q_head import SACQHead
from rl_coach.architectures.tensorflow_components.layers import Dense
from rl_coach.utils import eps

from markov.graph import contract

tf = _coach_head.tf  # the TF1 API as rl_coach sees it

# A floor under the softmax so that log-probabilities of never-chosen actions stay finite (§3.3).
MIN_ACTION_PROBABILITY = 1e-8


class DeepRacerPPOHead(PPOHead):
    """Coach's PPO head with the image's continuous branch: Identity ``policy`` and a clipped log-std."""

    def _build_discrete_net(self, input_layer, action_space):
        num_actions = len(action_space.actions)
        self.actions = tf.placeholder(tf.int32, [None], name="actions")
        self.old_policy_mean = tf.placeholder(tf.float32, [None, num_actions], "old_policy_mean")
        self.old_policy_std = tf.placeholder(tf.float32, [None, num_actions], "old_policy_std")
        self.input = [self.actions, self.old_policy_mean]

        logits = self.dense_layer(num_actions)(input_layer, name=contract.PPO_DISCRETE_LOGITS)
        # the frozen graph's output node (§6.2): a Softmax op named `policy`
        self.policy_mean = tf.nn.softmax(logits, name=contract.POLICY_OP)
        probabilities = tf.maximum(self.policy_mean, MIN_ACTION_PROBABILITY)

        distributions = tf.contrib.distributions
        self.policy_distribution = distributions.Categorical(probs=probabilities)
        self.old_policy_distribution = distributions.Categorical(probs=self.old_policy_mean)
        self.output = self.policy_mean

    def _build_continuous_net(self, input_layer, action_space):
        num_actions = int(np.prod(action_space.shape))
        self.actions = tf.placeholder(tf.float32, [None, num_actions], name="actions")
        self.old_policy_mean = tf.placeholder(tf.float32, [None, num_actions], "old_policy_mean")
        self.old_policy_std = tf.placeholder(tf.float32, [None, num_actions], "old_policy_std")
        self.input = [self.actions, self.old_policy_mean, self.old_policy_std]

        self.policy_mean = self.dense_layer(num_actions)(
            input_layer, name=contract.PPO_CONTINUOUS_MEAN, kernel_initializer=normalized_columns_initializer(0.01))
        # the frozen graph's output node (§6.2): the mean in the normalised [-1, 1] space
        self.policy = tf.identity(self.policy_mean, name=contract.POLICY_OP)
        self.policy_logstd = tf.Variable(np.zeros((1, num_actions)), dtype="float32", name=contract.PPO_LOG_STD)
        low, high = contract.PPO_LOG_STD_RANGE
        log_std = tf.clip_by_value(self.policy_logstd, low, high)
        self.policy_std = tf.tile(tf.exp(log_std), [tf.shape(input_layer)[0], 1], name="policy_std")

        distributions = tf.contrib.distributions
        self.policy_distribution = distributions.MultivariateNormalDiag(self.policy_mean, self.policy_std + eps)
        self.old_policy_distribution = distributions.MultivariateNormalDiag(
            self.old_policy_mean, self.old_policy_std + eps)
        self.output = [self.policy_mean, self.policy_std]


class DeepRacerSACPolicyHead(SACPolicyHead):
    """The image's SAC policy head: Dense(256) -> ``policy_mean`` / log-std, Identity ``policy``.

    Outputs keep Coach's order (mean, log-std, raw sample, action, log-prob, mean log-prob),
    which ``SoftActorCriticAgent.learn_from_batch`` indexes. ``sac_alpha`` scales the two
    log-prob outputs: the agent then computes the value target ``q - alpha * log p`` and the
    policy gradient of ``alpha * log p - q``, i.e. SAC with entropy temperature alpha.
    With ``rescale_action_values`` the squashed action is mapped from [-1, 1] to the action
    space bounds, so Q sees actions in the same units as the rollout's transitions.
    """

    def __init__(self, agent_parameters, spaces, network_name, head_idx=0, loss_weight=1.0, is_local=True,
                 activation_function="relu", squash=True, dense_layer=Dense, sac_alpha=0.2,
                 rescale_action_values=True):
        super().__init__(agent_parameters, spaces, network_name, head_idx, loss_weight, is_local,
                         activation_function, squash, dense_layer=dense_layer)
        # Coach keeps the shape array here; TF under numpy 2 wants an int in placeholder shapes
        self.num_actions = int(np.prod(self.spaces.action.shape))
        self.sac_alpha = float(sac_alpha)
        self.rescale_action_values = rescale_action_values

    def _to_action_bounds(self, squashed, action_space):
        if not self.rescale_action_values:
            return squashed
        low = np.asarray(action_space.low, dtype=np.float32)
        high = np.asarray(action_space.high, dtype=np.float32)
        return low + (squashed + 1.0) * 0.5 * (high - low)

    def _build_continuous_net(self, input_layer, action_space):
        num_actions = int(np.prod(action_space.shape))
        hidden = self.dense_layer(contract.SAC_POLICY_HIDDEN_UNITS)(
            input_layer, name=contract.SAC_POLICY_HIDDEN, activation=self.activation_function)
        self.policy_mean = self.dense_layer(num_actions)(hidden, name=contract.SAC_POLICY_MEAN)
        # the frozen graph's output node (§6.2): the raw, pre-tanh, unscaled mean
        self.policy = tf.identity(self.policy_mean, name=contract.POLICY_OP)
        raw_log_std = self.dense_layer(num_actions)(hidden, name=contract.SAC_POLICY_LOG_STD)
        low, high = contract.SAC_LOG_STD_RANGE
        self.policy_log_std = tf.clip_by_value(raw_log_std, low, high, name="policy_log_std")

        self.policy_distribution = tf.contrib.distributions.MultivariateNormalDiag(
            loc=self.policy_mean, scale_diag=tf.exp(self.policy_log_std))
        self.raw_actions = self.policy_distribution.sample()
        squashed = tf.tanh(self.raw_actions) if self.squash else self.raw_actions
        self.actions = self._to_action_bounds(squashed, action_space)
        # what a deterministic (evaluation) step drives with, in action-space units
        deterministic = tf.tanh(self.policy_mean) if self.squash else self.policy_mean
        self.deterministic_actions = self._to_action_bounds(deterministic, action_space)

        log_prob = self.policy_distribution.log_prob(self.raw_actions) - self._squash_correction(self.raw_actions)
        self.sampled_actions_logprob = self.sac_alpha * log_prob
        self.sampled_actions_logprob_mean = tf.reduce_mean(self.sampled_actions_logprob)

        self.output = [self.policy_mean, self.policy_log_std, self.raw_actions, self.actions,
                       self.sampled_actions_logprob, self.sampled_actions_logprob_mean]


class DeepRacerSACQHead(SACQHead):
    """The image's twin Q head: each twin reads ``concat(embedding, action)`` (§3.3)."""

    def _build_module(self, input_layer):
        num_actions = int(np.prod(self.num_actions))
        self.actions = tf.placeholder(tf.float32, [None, num_actions], name="actions")
        self.target = tf.placeholder(tf.float32, [None, 1], name="q_targets")
        self.input = [self.actions]
        self.output = []

        state_action = tf.concat([input_layer, self.actions], axis=-1)
        twins = []
        for twin, (first, second, output) in contract.SAC_Q_LAYERS.items():
            with tf.variable_scope(twin):
                hidden = self.dense_layer(contract.SAC_Q_HIDDEN_UNITS)(
                    state_action, name=first, activation=self.activation_function)
                hidden = self.dense_layer(contract.SAC_Q_HIDDEN_UNITS)(
                    hidden, name=second, activation=self.activation_function)
                twins.append(self.dense_layer(1)(hidden, name=output, bias_initializer=self.output_bias_initializer))
        self.q1_output, self.q2_output = twins

        self.q_output = tf.minimum(self.q1_output, self.q2_output, name="q_output")
        self.q_output_mean = tf.reduce_mean(self.q_output)
        self.output.append(self.q_output)
        self.output.append(self.q_output_mean)

        self.q1_loss = 0.5 * tf.reduce_mean(tf.square(self.q1_output - self.target))
        self.q2_loss = 0.5 * tf.reduce_mean(tf.square(self.q2_output - self.target))
        self.loss = self.q1_loss + self.q2_loss
        tf.losses.add_loss(self.loss)


class DeepRacerPPOHeadParameters(PPOHeadParameters):
    """Selects :class:`DeepRacerPPOHead`."""

    def __init__(self):
        super().__init__()
        self.parameterized_class_name = DeepRacerPPOHead.__name__

    @property
    def path(self) -> str:
        return f"{__name__}:{self.parameterized_class_name}"


class DeepRacerSACPolicyHeadParameters(SACPolicyHeadParameters):
    """Selects :class:`DeepRacerSACPolicyHead` with the image's ``sac_alpha`` and rescaling."""

    def __init__(self, sac_alpha: float = 0.2, rescale_action_values: bool = True):
        super().__init__()
        self.parameterized_class_name = DeepRacerSACPolicyHead.__name__
        self.sac_alpha = sac_alpha
        self.rescale_action_values = rescale_action_values

    @property
    def path(self) -> str:
        return f"{__name__}:{self.parameterized_class_name}"


class DeepRacerSACQHeadParameters(SACQHeadParameters):
    """Selects :class:`DeepRacerSACQHead`."""

    def __init__(self):
        super().__init__(layers_sizes=(contract.SAC_Q_HIDDEN_UNITS, contract.SAC_Q_HIDDEN_UNITS))
        self.parameterized_class_name = DeepRacerSACQHead.__name__

    @property
    def path(self) -> str:
        return f"{__name__}:{self.parameterized_class_name}"
