"""The two ``tf.contrib.distributions`` families Coach's heads build, and their KL divergence.

rl_coach's PPO, policy and SAC heads use only ``Categorical(probs=...)`` and
``MultivariateNormalDiag(loc, scale_diag)`` through ``log_prob``, ``prob``, ``entropy``, ``sample``,
``mean``/``mode``/``stddev`` and ``tf.distributions.kl_divergence(old, new)``. These small classes
give the same formulas as TF1's, so tensorflow-probability is not needed. ``kl_divergence`` only
knows these classes: mixing families is an error, as it was in TF1.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import tensorflow as tf

v1 = tf.compat.v1

SampleShape = Union[int, tuple, list, tf.Tensor]

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _sample_shape(sample_shape: SampleShape) -> list:
    if isinstance(sample_shape, (tuple, list)):
        return list(sample_shape)
    return [sample_shape]


class Categorical:
    """A batch of categorical distributions over the last axis of ``logits`` or ``probs``."""

    def __init__(self, logits: Optional[tf.Tensor] = None, probs: Optional[tf.Tensor] = None,
                 dtype=tf.int32, name: str = "Categorical"):
        if (logits is None) == (probs is None):
            raise ValueError("Categorical needs exactly one of logits or probs")
        self.name = name
        self.dtype = dtype
        with v1.name_scope(name):
            if probs is not None:
                self.probs = tf.convert_to_tensor(probs, name="probs")
                # TF1 keeps log(probs) as logits, so unnormalised probs are normalised alike.
                self.logits = tf.math.log(self.probs, name="logits")
            else:
                self.logits = tf.convert_to_tensor(logits, name="logits")
                self.probs = tf.nn.softmax(self.logits, name="probs")

    @property
    def num_classes(self) -> tf.Tensor:
        return tf.shape(self.logits)[-1]

    def log_prob(self, value: tf.Tensor, name: str = "log_prob") -> tf.Tensor:
        with v1.name_scope(self.name + "/" + name):
            labels = tf.cast(value, tf.int32)
            return -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=self.logits)

    def prob(self, value: tf.Tensor, name: str = "prob") -> tf.Tensor:
        return tf.exp(self.log_prob(value), name=name)

    def entropy(self, name: str = "entropy") -> tf.Tensor:
        with v1.name_scope(self.name + "/" + name):
            return -tf.reduce_sum(tf.nn.log_softmax(self.logits) * self.probs, axis=-1)

    def mode(self, name: str = "mode") -> tf.Tensor:
        return tf.cast(tf.argmax(self.logits, axis=-1), self.dtype, name=name)

    def sample(self, sample_shape: SampleShape = (), seed: Optional[int] = None, name: str = "sample") -> tf.Tensor:
        """Samples shaped ``sample_shape + batch_shape``."""
        with v1.name_scope(self.name + "/" + name):
            flat_logits = tf.reshape(self.logits, [-1, self.num_classes])
            count = tf.reduce_prod(_sample_shape(sample_shape))
            draws = tf.random.categorical(flat_logits, count, seed=seed, dtype=tf.int64)  # [batch, n]
            draws = tf.transpose(draws)
            shape = tf.concat([_sample_shape(sample_shape), tf.shape(self.logits)[:-1]], axis=0)
            return tf.cast(tf.reshape(draws, shape), self.dtype)


class MultivariateNormalDiag:
    """A batch of Gaussians with diagonal covariance; the event is the last axis."""

    def __init__(self, loc: tf.Tensor, scale_diag: tf.Tensor, name: str = "MultivariateNormalDiag"):
        self.name = name
        with v1.name_scope(name):
            self.loc = tf.convert_to_tensor(loc, name="loc")
            self.scale_diag = tf.convert_to_tensor(scale_diag, dtype=self.loc.dtype, name="scale_diag")
        self.dtype = self.loc.dtype

    def log_prob(self, value: tf.Tensor, name: str = "log_prob") -> tf.Tensor:
        with v1.name_scope(self.name + "/" + name):
            z = (tf.convert_to_tensor(value, dtype=self.dtype) - self.loc) / self.scale_diag
            per_dim = -0.5 * tf.square(z) - tf.math.log(self.scale_diag) - _HALF_LOG_TWO_PI
            return tf.reduce_sum(per_dim, axis=-1)

    def prob(self, value: tf.Tensor, name: str = "prob") -> tf.Tensor:
        return tf.exp(self.log_prob(value), name=name)

    def entropy(self, name: str = "entropy") -> tf.Tensor:
        with v1.name_scope(self.name + "/" + name):
            per_dim = 0.5 + _HALF_LOG_TWO_PI + tf.math.log(self.scale_diag)
            return tf.reduce_sum(per_dim * tf.ones_like(self.loc), axis=-1)

    def mean(self, name: str = "mean") -> tf.Tensor:
        return tf.identity(self.loc * tf.ones_like(self.scale_diag), name=name)

    mode = mean

    def stddev(self, name: str = "stddev") -> tf.Tensor:
        return tf.identity(self.scale_diag * tf.ones_like(self.loc), name=name)

    def sample(self, sample_shape: SampleShape = (), seed: Optional[int] = None, name: str = "sample") -> tf.Tensor:
        """Reparameterised samples (gradients flow to ``loc`` and ``scale_diag``), as SAC needs."""
        with v1.name_scope(self.name + "/" + name):
            batch_event = tf.shape(self.loc * tf.ones_like(self.scale_diag))
            shape = tf.concat([_sample_shape(sample_shape), batch_event], axis=0)
            noise = tf.random.normal(shape, dtype=self.dtype, seed=seed)
            return self.loc + self.scale_diag * noise


def kl_divergence(distribution_a, distribution_b, allow_nan_stats: bool = True,
                  name: Optional[str] = None) -> tf.Tensor:
    """``KL(a || b)`` per batch member, for two distributions of the same family from this module."""
    with v1.name_scope(name, "KullbackLeibler"):
        if isinstance(distribution_a, Categorical) and isinstance(distribution_b, Categorical):
            log_a = tf.nn.log_softmax(distribution_a.logits)
            log_b = tf.nn.log_softmax(distribution_b.logits)
            return tf.reduce_sum(tf.nn.softmax(distribution_a.logits) * (log_a - log_b), axis=-1)
        if isinstance(distribution_a, MultivariateNormalDiag) and isinstance(distribution_b, MultivariateNormalDiag):
            var_a = tf.square(distribution_a.scale_diag)
            var_b = tf.square(distribution_b.scale_diag)
            per_dim = (tf.math.log(distribution_b.scale_diag) - tf.math.log(distribution_a.scale_diag)
                       + (var_a + tf.square(distribution_a.loc - distribution_b.loc)) / (2.0 * var_b) - 0.5)
            return tf.reduce_sum(per_dim, axis=-1)
    raise NotImplementedError(
        f"kl_divergence({type(distribution_a).__name__}, {type(distribution_b).__name__}) is not defined; "
        "markov.compat bridges Categorical/Categorical and MultivariateNormalDiag/MultivariateNormalDiag only")
