"""The module rl_coach sees as ``tf``: ``tf.compat.v1`` plus the ``contrib`` pieces Coach uses.

Only rl_coach modules get this object (see ``coach_imports``); everyone else's ``tensorflow`` is the
real one. Attribute lookup goes: the bridged names below, then ``tf.compat.v1``.
"""
from __future__ import annotations

import types

import numpy as np
import tensorflow as tf

from markov.compat import distributions, layers
from markov.errors import ConfigError

v1 = tf.compat.v1


class BridgedNamespace(types.ModuleType):
    """A module made of the given names, optionally backed by another module.

    A missing name says which TF1 API is not bridged, rather than a bare AttributeError.
    """

    def __init__(self, name: str, members: dict, fallback: types.ModuleType | None = None):
        super().__init__(name)
        self.__dict__.update(members)
        self._fallback = fallback

    def __getattr__(self, attribute: str):
        fallback = self.__dict__.get("_fallback")
        if fallback is not None and not attribute.startswith("__"):
            return getattr(fallback, attribute)
        raise AttributeError(f"{self.__name__}.{attribute} is not bridged to TensorFlow 2 by markov.compat")


def _refuse(api: str, setting: str):
    def refused(*args, **kwargs):
        raise ConfigError(f"{api} does not exist in TensorFlow 2 and markov.compat does not bridge it; {setting}")
    refused.__name__ = api.rsplit(".", 1)[-1]
    return refused


def _dimension(value):
    """TF1 took ``int(value)`` of a dimension, so Coach passes one-element arrays (``space.shape``)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        return int(value.reshape(()))
    return value


def _placeholder(dtype, shape=None, name=None):
    """``tf.placeholder``, accepting the one-element-array dimensions TF1 accepted."""
    if isinstance(shape, (list, tuple)):
        shape = [_dimension(size) for size in shape]
    return v1.placeholder(dtype, shape=shape, name=name)


def _get_name_scope() -> str:
    """``tf.contrib.framework.get_name_scope``: the current name scope, without a trailing slash."""
    return v1.get_default_graph().get_name_scope()


contrib = BridgedNamespace("tf.contrib", {
    "layers": BridgedNamespace("tf.contrib.layers", {
        "flatten": layers.flatten,
        "xavier_initializer": layers.xavier_initializer,
    }),
    "framework": BridgedNamespace("tf.contrib.framework", {
        "get_name_scope": _get_name_scope,
        "load_checkpoint": tf.train.load_checkpoint,
    }),
    "distributions": BridgedNamespace("tf.contrib.distributions", {
        "Categorical": distributions.Categorical,
        "MultivariateNormalDiag": distributions.MultivariateNormalDiag,
        "kl_divergence": distributions.kl_divergence,
    }),
    "opt": BridgedNamespace("tf.contrib.opt", {
        "ScipyOptimizerInterface": _refuse(
            "tf.contrib.opt.ScipyOptimizerInterface",
            "set the network's optimizer_type to 'Adam' instead of 'LBFGS'"),
    }),
})

_rnn_cell = BridgedNamespace("tf.nn.rnn_cell", {
    name: _refuse(f"tf.nn.rnn_cell.{name}", "use the FC middleware instead of the LSTM middleware")
    for name in ("BasicLSTMCell", "LSTMCell", "LSTMStateTuple", "GRUCell", "MultiRNNCell", "BasicRNNCell")
})

coach_tensorflow = BridgedNamespace("tensorflow", {
    "contrib": contrib,
    "layers": BridgedNamespace("tf.layers", {
        "dense": layers.dense,
        "conv2d": layers.conv2d,
        "dropout": layers.dropout,
        "batch_normalization": layers.batch_normalization,
        "flatten": layers.flatten,
    }),
    "distributions": BridgedNamespace("tf.distributions", {
        "Categorical": distributions.Categorical,
        "MultivariateNormalDiag": distributions.MultivariateNormalDiag,
        "kl_divergence": distributions.kl_divergence,
    }),
    "nn": BridgedNamespace("tf.nn", {"rnn_cell": _rnn_cell}, fallback=v1.nn),
    "placeholder": _placeholder,
    "__version__": tf.__version__,
}, fallback=v1)
"""What ``import tensorflow as tf`` gives inside rl_coach modules."""
