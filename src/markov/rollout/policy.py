"""Choose actions with the current policy, through the Coach agent, as the image's rollout does.

The action a transition records is the one the *network* knows (docs/protocol.md §2): an index for
discrete spaces, the [-1, 1] pair for continuous PPO, the raw-bounds pair for SAC. The simulator
gets the action in the JSON's units.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from markov.model_metadata import SAC, ModelMetadata
from markov.sim.car import ActionDecoder


# Filled with 0.0 by the image's rollout and never read by the trainer (docs/protocol.md §9).
_UNUSED_VALUES = {"state_value": 0.0, "action_value": 0.0, "max_action_value": 0.0}


@dataclass
class PolicyAction:
    """One decision: what the simulator drives, and what the transition records."""

    env_action: Any
    network_action: Any
    info: dict


class CoachPolicy:
    """Samples actions from the agent of a rollout graph manager (exploration on, as in training)."""

    def __init__(self, graph_manager, metadata: ModelMetadata) -> None:
        from rl_coach.core_types import RunPhase

        self.graph_manager = graph_manager
        self.agent = graph_manager.get_agent()
        self.metadata = metadata
        self.decoder = ActionDecoder(metadata)
        # Categorical sampling for discrete PPO, Gaussian sampling for continuous PPO and SAC.
        graph_manager.phase = RunPhase.TRAIN

    def act(self, observation: dict) -> PolicyAction:
        decision = self.agent.choose_action(observation)
        if self.metadata.is_discrete:
            index = int(np.asarray(decision.action).reshape(-1)[0])
            probabilities = np.asarray(decision.all_action_probabilities, dtype=np.float32).reshape(-1)
            action = np.int64(index)  # the image records numpy int64 (docs/protocol.md §9)
            return PolicyAction(index, action, {"all_action_probabilities": probabilities, "action": action,
                                                **_UNUSED_VALUES})
        raw = np.asarray(decision.action, dtype=np.float32).reshape(-1)
        if self.metadata.training_algorithm == SAC:
            # SAC's head already samples within the JSON bounds (rescale_action_values).
            network_action = raw
            env_action = raw.astype(np.float64)
        else:
            network_action = np.clip(raw, -1.0, 1.0)
            env_action = self.decoder.from_normalized(network_action)
        info = {"all_action_probabilities": np.zeros(0, dtype=np.float32), "action": network_action, **_UNUSED_VALUES}
        return PolicyAction(env_action, network_action, info)
