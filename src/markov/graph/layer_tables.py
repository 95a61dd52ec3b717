"""The simulation image's layer tables (docs/protocol.md §3.2), as data, in one place.

Rollout workers restore our checkpoints by variable name and shape (§3.4), so every layer size,
kernel and stride here must equal the image's. Everything else in ``markov.graph`` (the Coach
embedder/middleware schemes, the expected checkpoint contents, the tests) is derived from these
tables. Batch-norm and dropout never appear: the image's ``scheme`` embedder ignores them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from markov.model_metadata import (
    DEEP,
    DEEPER,
    DISCRETIZED_SECTOR_LIDAR,
    FRONT_FACING_CAMERA,
    LEFT_CAMERA,
    LIDAR,
    OBSERVATION,
    SECTOR_LIDAR,
    SHALLOW,
    STEREO_CAMERAS,
    LidarConfig,
)
from markov.sensors import observation_shape  # the observation geometry (§3.1) the tables start from

ACTIVATION = "relu"


@dataclass(frozen=True)
class Conv:
    """Keras Conv2D, ``valid`` padding, channels last."""

    filters: int
    kernel: int
    stride: int


@dataclass(frozen=True)
class Dense:
    """Dense layer; inside an image embedder it acts per pixel, before the flatten."""

    units: int


Layer = Union[Conv, Dense]

_CAMERA = {
    SHALLOW: (Conv(32, 8, 4), Conv(64, 4, 2), Conv(64, 3, 1)),
    DEEP: (Conv(32, 5, 2), Conv(32, 3, 1), Conv(64, 3, 2), Conv(64, 3, 1), Dense(64)),
    DEEPER: (Conv(32, 8, 4), Conv(32, 4, 2), Conv(64, 4, 2), Conv(64, 3, 1), Dense(512), Dense(512)),
}
_STEREO_DEEP = (Conv(32, 3, 1), Conv(64, 3, 2), Conv(64, 3, 1), Conv(128, 3, 2), Conv(128, 3, 1))
_STEREO = {SHALLOW: _CAMERA[SHALLOW], DEEP: _STEREO_DEEP, DEEPER: _STEREO_DEEP}
_LIDAR = (Dense(256), Dense(256))

_EMBEDDERS = {
    FRONT_FACING_CAMERA: _CAMERA,
    LEFT_CAMERA: _CAMERA,
    OBSERVATION: {network: _CAMERA[SHALLOW] for network in _CAMERA},  # the pre-2020 input is always shallow
    STEREO_CAMERAS: _STEREO,
    LIDAR: {network: _LIDAR for network in _CAMERA},
    SECTOR_LIDAR: {network: _LIDAR for network in _CAMERA},
    DISCRETIZED_SECTOR_LIDAR: {network: _LIDAR for network in _CAMERA},
}

_MIDDLEWARE = {
    SHALLOW: (Dense(512),),
    DEEP: (Dense(512),),
    DEEPER: (Dense(256), Dense(128)),
}

MIDDLEWARE_SCOPE = "middleware_fc_embedder"
def embedder_layers(sensor: str, network: str) -> tuple[Layer, ...]:
    """The input embedder of ``sensor`` for ``neural_network`` = ``network`` (§3.2)."""
    return _EMBEDDERS[sensor][network]


def middleware_layers(network: str) -> tuple[Layer, ...]:
    """The ``middleware_fc_embedder`` layers for ``network`` (§3.2)."""
    return _MIDDLEWARE[network]


def layer_names(layers: tuple[Layer, ...]) -> list[str]:
    """Scope names Coach gives the layers: ``<Class>_<idx>`` with idx = 0, 2, 4, ...

    Coach inserts an activation element after every layer and numbers list positions, so the
    layers take the even indices (§3.2).
    """
    return [f"{'Conv2d' if isinstance(layer, Conv) else 'Dense'}_{2 * i}" for i, layer in enumerate(layers)]


def layer_output_shapes(input_shape: tuple[int, ...], layers: tuple[Layer, ...]) -> list[tuple[int, ...]]:
    """Output shape of every layer (batch axis excluded), for ``valid`` convolutions."""
    shape = tuple(input_shape)
    shapes = []
    for layer in layers:
        if isinstance(layer, Conv):
            height, width, _ = shape
            shape = ((height - layer.kernel) // layer.stride + 1, (width - layer.kernel) // layer.stride + 1, layer.filters)
        else:
            shape = shape[:-1] + (layer.units,)
        shapes.append(shape)
    return shapes


def layer_kernel_shapes(input_shape: tuple[int, ...], layers: tuple[Layer, ...]) -> list[tuple[int, ...]]:
    """Kernel shape of every layer: ``[k, k, in, filters]`` or ``[in, units]``."""
    kernels = []
    last = input_shape[-1]
    for layer in layers:
        if isinstance(layer, Conv):
            kernels.append((layer.kernel, layer.kernel, last, layer.filters))
            last = layer.filters
        else:
            kernels.append((last, layer.units))
            last = layer.units
    return kernels


def flattened_size(sensor: str, network: str, lidar_config: LidarConfig = LidarConfig()) -> int:
    """Size of the flattened embedding of ``sensor``: what the merger concatenates."""
    shape = layer_output_shapes(observation_shape(sensor, lidar_config), embedder_layers(sensor, network))[-1]
    size = 1
    for dim in shape:
        size *= dim
    return size
