"""Feed transitions from the rollout workers into the Coach agent, as the image's trainer does.

This is the one path episodes take into the agent, whether they come from Redis or from a test:
each transition is observed and "acted" (Coach's trainer-side emulation of a step), the episode
ends on ``game_over``, and Coach's episodic memory stores it. Coach's own
``GraphManager.emulate_act_on_trainer`` cannot be used: it counts steps through an environment,
and the trainer has none.
"""
from __future__ import annotations

import math
from typing import Iterable

from rl_coach.core_types import EnvironmentSteps, RunPhase, Transition


def continue_step_count(graph_manager, steps: int) -> None:
    """Start the TRAIN step counter at ``steps``: a continued model's checkpoint names go on from its last one."""
    graph_manager.total_steps_counters[RunPhase.TRAIN][EnvironmentSteps] = steps


def ingest_transitions(graph_manager, transitions: Iterable[Transition]) -> int:
    """Hand every transition to the agent; returns how many were ingested.

    Each one adds 1 to the TRAIN environment-step counter, which names checkpoints
    (``<n>_Step-<steps>.ckpt``, docs/protocol.md §4.1). The episode's total reward is accumulated for
    the ``Training>`` line (the community patch of §7.1; Coach 1.0.1 only adds it when it steps an
    environment itself).
    """
    level = graph_manager.level_managers[0]
    agent = graph_manager.get_agent()
    count = 0
    with graph_manager.phase_context(RunPhase.TRAIN):
        for transition in transitions:
            if level.reset_required:
                level.reset_internal_state()
            agent.total_reward_in_current_episode += transition.reward
            done = agent.observe_transition(transition)
            agent.act(transition.action)
            if done:
                level.handle_episode_ended()
                level.reset_required = True
            graph_manager.total_steps_counters[RunPhase.TRAIN][EnvironmentSteps] += 1
            count += 1
    return count


def train_batch_size(configured: int, steps_received: int) -> int:
    """The image's batch-size rule (§7.1): the configured size, or the largest power of two that fits."""
    if steps_received > configured:
        return configured
    return 2 ** int(math.floor(math.log2(max(1, steps_received))))


def prepare_training(graph_manager, episodes: int, steps: int, batch_size: int, is_sac: bool) -> None:
    """Tell Coach how much arrived, as the image does before ``should_train`` (§7.1 step 2)."""
    agent = graph_manager.get_agent()
    algorithm = agent.ap.algorithm
    # the image sets the counts and keeps Coach's step classes (episodes for PPO, steps for SAC)
    algorithm.num_consecutive_playing_steps.num_steps = max(1, episodes)
    copy_interval = getattr(algorithm, "num_steps_between_copying_online_weights_to_target", None)
    if copy_interval is not None:
        copy_interval.num_steps = max(1, episodes)
    if is_sac:
        algorithm.num_consecutive_training_steps = max(1, steps)
    for wrapper in agent.ap.network_wrappers.values():
        wrapper.batch_size = batch_size
