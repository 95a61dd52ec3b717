"""Coach spaces for a model: the *filtered* observations a transition carries, and the actions.

The trainer never runs the rollout's input filters: transitions arrive already grayscaled,
stacked and discretised (docs/protocol.md §3.1). So the network is built straight from the filtered
spaces, and the agent gets no input filter of its own. Image spaces become Coach
``PlanarMapsObservationSpace`` (image embedder, /255 in the graph); lidar spaces are vectors.
"""
from __future__ import annotations

import numpy as np
from rl_coach.spaces import (
    ActionSpace,
    BoxActionSpace,
    DiscreteActionSpace,
    ObservationSpace,
    PlanarMapsObservationSpace,
    RewardSpace,
    SpacesDefinition,
    StateSpace,
    VectorObservationSpace,
)

from markov.graph import layer_tables
from markov.sensors import IMAGE_SENSORS, LIDAR_CLIP
from markov.model_metadata import (
    DISCRETIZED_SECTOR_LIDAR,
    LIDAR,
    SAC,
    SECTOR_LIDAR,
    LidarConfig,
    ModelMetadata,
)


def observation_space(sensor: str, lidar_config: LidarConfig = LidarConfig(), stack_size: int = 1) -> ObservationSpace:
    """The filtered observation space of one sensor (§3.1).

    ``stack_size``: frames stacked on the channel axis of a camera. The current image stacks 1
    whatever the hyperparameter says; the 2020 image stacked ``stack_size`` (§1.4, §3.1), so its
    rollouts send ``(120, 160, stack_size)`` and its first convolution reads that many channels.
    """
    shape = layer_tables.observation_shape(sensor, lidar_config)
    if sensor in IMAGE_SENSORS:
        shape = shape[:-1] + (shape[-1] * int(stack_size),)
        # uint8 0..255; Coach's image embedder divides by 255 inside the graph
        return PlanarMapsObservationSpace(np.array(shape), low=0, high=255, channels_axis=-1)
    if sensor == LIDAR:
        return VectorObservationSpace(shape[0], low=LIDAR_CLIP[0], high=LIDAR_CLIP[1])
    if sensor in (SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR):
        return VectorObservationSpace(shape[0], low=0.0, high=1.0)  # one-hot/binary sector values
    raise KeyError(sensor)


def state_space(metadata: ModelMetadata, stack_size: int = 1) -> StateSpace:
    """One observation space per sensor key, keyed exactly as the transitions' state dicts."""
    return StateSpace({sensor: observation_space(sensor, metadata.lidar_config, stack_size) for sensor in metadata.sensors})


def action_space(metadata: ModelMetadata) -> ActionSpace:
    """The action space the *networks* see (docs/protocol.md §2, "Action spaces seen by the networks").

    PPO discrete: n indices. PPO continuous: a box normalised to [-1, 1] (the environment
    rescales it). SAC: a box with the raw JSON bounds, since its policy head rescales itself.
    """
    if metadata.is_discrete:
        descriptions = [f"steering {a.steering_angle} deg, speed {a.speed} m/s" for a in metadata.action_space]
        return DiscreteActionSpace(
            num_actions=metadata.num_actions,
            descriptions={i: text for i, text in enumerate(descriptions)},
            default_action=metadata.default_action_index,
        )
    bounds = metadata.action_space
    if metadata.training_algorithm == SAC:
        low = np.array([bounds.steering_low, bounds.speed_low], dtype=np.float32)
        high = np.array([bounds.steering_high, bounds.speed_high], dtype=np.float32)
    else:
        low = -np.ones(2, dtype=np.float32)
        high = np.ones(2, dtype=np.float32)
    return BoxActionSpace(shape=2, low=low, high=high, descriptions=["steering_angle", "speed"])


def spaces_definition(metadata: ModelMetadata, stack_size: int = 1) -> SpacesDefinition:
    """Everything an environment-less Coach level needs to build the agent's networks."""
    return SpacesDefinition(state=state_space(metadata, stack_size), goal=None, action=action_space(metadata),
                            reward=RewardSpace(1))
