"""The TF1 ``tf.layers`` functions Coach calls, rebuilt on ``tf.compat.v1`` variables.

TF 2.16+ ships Keras 3, whose ``tf.compat.v1.layers`` only raise. Checkpoints are restored by
variable name (docs/protocol.md §3.4), so every layer here creates exactly the variables TF1's
``tf.layers`` created: ``<scope>/kernel`` and ``<scope>/bias`` (``gamma``/``beta``/
``moving_mean``/``moving_variance`` for batch norm), where ``<scope>`` is the given name, or
``dense``, ``dense_1``, ... (``conv2d``, ``conv2d_1``, ...) unique within the enclosing
variable scope when no name is given. An initializer left as ``None`` falls back, as in TF1, to
the enclosing variable scope's initializer and then to glorot-uniform.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

Activation = Optional[Callable[..., tf.Tensor]]
IntOrPair = Union[int, Sequence[int]]


def _last_dim(inputs: tf.Tensor, layer: str) -> int:
    size = tf.compat.dimension_value(inputs.get_shape()[-1])
    if size is None:
        raise ValueError(f"{layer}: the last dimension of {inputs.name} must be known, got shape {inputs.get_shape()}")
    return int(size)


def _pair(value: IntOrPair) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def _padding(padding: str) -> str:
    mode = padding.upper()
    if mode not in ("VALID", "SAME"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return mode


def _finish(outputs: tf.Tensor, bias: Optional[tf.Tensor], activation: Activation, channels_first: bool = False):
    if bias is not None:
        outputs = tf.nn.bias_add(outputs, bias, data_format="NCHW" if channels_first else None)
    if activation is not None:
        outputs = activation(outputs)
    return outputs


def dense(inputs: tf.Tensor, units: int, activation: Activation = None, use_bias: bool = True,
          kernel_initializer=None, bias_initializer=None, trainable: bool = True,
          name: Optional[str] = None, reuse: Optional[bool] = None) -> tf.Tensor:
    """``tf.layers.dense``: a fully connected layer over the last axis (inputs of any rank)."""
    in_units = _last_dim(inputs, "dense")
    with v1.variable_scope(name, default_name="dense", reuse=reuse):
        kernel = v1.get_variable("kernel", [in_units, units], dtype=inputs.dtype.base_dtype,
                                 initializer=kernel_initializer, trainable=trainable)
        bias = None
        if use_bias:
            bias = v1.get_variable("bias", [units], dtype=inputs.dtype.base_dtype,
                                   initializer=bias_initializer or v1.zeros_initializer(), trainable=trainable)
        rank = inputs.get_shape().ndims
        if rank == 2:
            outputs = tf.matmul(inputs, kernel)
        else:
            outputs = tf.tensordot(inputs, kernel, [[rank - 1], [0]])
            outputs.set_shape(inputs.get_shape()[:-1].concatenate([units]))
        return _finish(outputs, bias, activation)


def conv2d(inputs: tf.Tensor, filters: int, kernel_size: IntOrPair, strides: IntOrPair = (1, 1),
           padding: str = "valid", data_format: str = "channels_last", dilation_rate: IntOrPair = (1, 1),
           activation: Activation = None, use_bias: bool = True, kernel_initializer=None, bias_initializer=None,
           trainable: bool = True, name: Optional[str] = None, reuse: Optional[bool] = None) -> tf.Tensor:
    """``tf.layers.conv2d``: kernel ``[kh, kw, in_channels, filters]``, as TF1 laid it out."""
    channels_first = data_format == "channels_first"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    in_channels = tf.compat.dimension_value(inputs.get_shape()[1 if channels_first else -1])
    if in_channels is None:
        raise ValueError(f"conv2d: the channel dimension of {inputs.name} must be known")
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(strides)
    with v1.variable_scope(name, default_name="conv2d", reuse=reuse):
        kernel = v1.get_variable("kernel", [kh, kw, int(in_channels), filters], dtype=inputs.dtype.base_dtype,
                                 initializer=kernel_initializer, trainable=trainable)
        bias = None
        if use_bias:
            bias = v1.get_variable("bias", [filters], dtype=inputs.dtype.base_dtype,
                                   initializer=bias_initializer or v1.zeros_initializer(), trainable=trainable)
        outputs = tf.nn.conv2d(inputs, kernel,
                               strides=[1, 1, sh, sw] if channels_first else [1, sh, sw, 1],
                               padding=_padding(padding), data_format="NCHW" if channels_first else "NHWC",
                               dilations=[1, 1, *_pair(dilation_rate)] if channels_first
                               else [1, *_pair(dilation_rate), 1])
        return _finish(outputs, bias, activation, channels_first)


def dropout(inputs: tf.Tensor, rate: float = 0.5, noise_shape=None, seed: Optional[int] = None,
            training: Union[bool, tf.Tensor] = False, name: Optional[str] = None) -> tf.Tensor:
    """``tf.layers.dropout``: drops only when ``training`` (a bool or a boolean tensor) is true."""
    with v1.name_scope(name, "dropout", [inputs]):
        if isinstance(training, bool):
            return tf.nn.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed) if training else \
                tf.identity(inputs)
        return v1.cond(training,
                       lambda: tf.nn.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed),
                       lambda: tf.identity(inputs))


def batch_normalization(inputs: tf.Tensor, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                        center: bool = True, scale: bool = True, training: Union[bool, tf.Tensor] = False,
                        trainable: bool = True, name: Optional[str] = None,
                        reuse: Optional[bool] = None) -> tf.Tensor:
    """``tf.layers.batch_normalization``; moving-statistics updates go to ``UPDATE_OPS`` as in TF1."""
    rank = inputs.get_shape().ndims
    axis = axis % rank
    size = tf.compat.dimension_value(inputs.get_shape()[axis])
    reduce_axes = [i for i in range(rank) if i != axis]
    param_shape = [int(size)]
    broadcast = [1] * rank
    broadcast[axis] = int(size)
    dtype = inputs.dtype.base_dtype
    with v1.variable_scope(name, default_name="batch_normalization", reuse=reuse):
        gamma = v1.get_variable("gamma", param_shape, dtype, v1.ones_initializer(), trainable=trainable) \
            if scale else None
        beta = v1.get_variable("beta", param_shape, dtype, v1.zeros_initializer(), trainable=trainable) \
            if center else None
        moving_mean = v1.get_variable("moving_mean", param_shape, dtype, v1.zeros_initializer(), trainable=False)
        moving_variance = v1.get_variable("moving_variance", param_shape, dtype, v1.ones_initializer(),
                                          trainable=False)
        batch_mean, batch_variance = tf.nn.moments(inputs, reduce_axes)
        training_tensor = tf.convert_to_tensor(training, dtype=tf.bool)
        mean = v1.cond(training_tensor, lambda: batch_mean, lambda: tf.identity(moving_mean))
        variance = v1.cond(training_tensor, lambda: batch_variance, lambda: tf.identity(moving_variance))
        decay = 1.0 - momentum
        zeros = tf.zeros(param_shape, dtype)
        for variable, value in ((moving_mean, batch_mean), (moving_variance, batch_variance)):
            delta = v1.cond(training_tensor, lambda v=variable, x=value: (v - x) * decay, lambda: zeros)
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, v1.assign_sub(variable, delta))
        return tf.nn.batch_normalization(
            inputs, tf.reshape(mean, broadcast), tf.reshape(variance, broadcast),
            None if beta is None else tf.reshape(beta, broadcast),
            None if gamma is None else tf.reshape(gamma, broadcast), epsilon)


def flatten(inputs: tf.Tensor, outputs_collections=None, scope: Optional[str] = None) -> tf.Tensor:
    """``tf.contrib.layers.flatten``: ``[batch, ...]`` to ``[batch, k]``, keeping the static size."""
    with v1.name_scope(scope, "Flatten", [inputs]):
        static = inputs.get_shape()[1:].as_list()
        if all(dim is not None for dim in static):
            return tf.reshape(inputs, [-1, int(np.prod(static))])
        return tf.reshape(inputs, [tf.shape(inputs)[0], -1])


def xavier_initializer(uniform: bool = True, seed: Optional[int] = None, dtype=tf.float32):
    """``tf.contrib.layers.xavier_initializer``: glorot (fan-average) scaling; dtype comes from the variable."""
    return v1.variance_scaling_initializer(1.0, mode="fan_avg", distribution="uniform" if uniform else
                                           "truncated_normal", seed=seed)
