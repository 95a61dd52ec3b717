"""Small tf.compat.v1 graphs with the simulation image's node names, for export tests.

They stand in for Coach graphs where a real build would cost seconds: the same placeholder,
scope and output names (docs/protocol.md §3.3, §6.2), a value branch, and an optimizer, so that
freezing has something to strip.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from markov.graph import contract
from markov.model_metadata import ModelMetadata, parse_model_metadata

v1 = tf.compat.v1


@dataclass
class BuiltPolicy:
    graph: tf.Graph
    session: v1.Session
    metadata: ModelMetadata
    inputs: dict  # sensor -> placeholder tensor
    outputs: list  # output tensors (policy first)

    def run(self, observations: dict) -> list[np.ndarray]:
        feed = {self.inputs[key]: np.asarray(value, np.float32)[None] for key, value in observations.items()}
        return [value[0] for value in self.session.run(self.outputs, feed_dict=feed)]

    def save(self, directory: Path, name: str) -> Path:
        """Save like the image: trainable non-target variables, with the .meta graph (§3.4)."""
        with self.graph.as_default():
            variables = [v for v in v1.trainable_variables() if "/target" not in v.op.name]
            saver = v1.train.Saver(var_list=variables, max_to_keep=None)
            prefix = directory / name
            saver.save(self.session, str(prefix), write_meta_graph=True)
        return prefix


def _dense(x, units: int, name: str, activation=None):
    with v1.variable_scope(name):
        kernel = v1.get_variable("kernel", [int(x.shape[-1]), units], initializer=v1.glorot_uniform_initializer())
        bias = v1.get_variable("bias", [units], initializer=v1.random_uniform_initializer(-0.1, 0.1))
        y = tf.nn.bias_add(tf.matmul(x, kernel), bias)
    return activation(y) if activation else y


def _conv(x, filters: int, size: int, stride: int, name: str):
    with v1.variable_scope(name):
        kernel = v1.get_variable("kernel", [size, size, int(x.shape[-1]), filters], initializer=v1.glorot_uniform_initializer())
        bias = v1.get_variable("bias", [filters], initializer=v1.random_uniform_initializer(-0.1, 0.1))
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, stride, "VALID"), bias))


def _embed(value, sensor: str, scope: str):
    with v1.variable_scope(scope):
        x = value / 255.0 if value.shape.rank == 4 else value
        if value.shape.rank == 4:
            x = _conv(x, 4, 8, 4, f"{sensor}/Conv2d_0")
            x = tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
        else:
            x = _dense(x, 16, f"{sensor}/Dense_0", tf.nn.relu)
        return x


def build_policy(metadata_dict: dict, seed: int = 1) -> BuiltPolicy:
    metadata = parse_model_metadata(metadata_dict)
    algo = metadata.training_algorithm
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        inputs = {}
        net0 = contract.network_scope(contract.input_wrapper(algo), 0)
        for sensor in metadata.sensors:
            from markov.graph.layer_tables import observation_shape

            shape = (None,) + observation_shape(sensor, metadata.lidar_config)
            inputs[sensor] = v1.placeholder(tf.float32, shape, name=f"{net0}/{sensor}/{sensor}")
        outputs = []
        if algo == "sac":
            with v1.variable_scope(net0):
                embedded = tf.concat([_embed(inputs[s], s, ".") for s in sorted(metadata.sensors)], axis=-1)
                with v1.variable_scope("sac_policy_head_0"):
                    hidden = _dense(embedded, 8, "dense", tf.nn.relu)
                    mean = _dense(hidden, 2, "policy_mean")
                    policy = tf.identity(mean, name="policy")
                    log_std = tf.clip_by_value(_dense(hidden, 2, "dense_1_1"), -20.0, 2.0, name="policy_log_std")
                    tf.tanh(policy, name="tanh_actions")
            outputs = [policy, log_std]
            loss = tf.reduce_mean(tf.square(policy)) + tf.reduce_mean(log_std)
        else:
            with v1.variable_scope(contract.network_scope("main", 0)):
                value_embed = tf.concat([_embed(inputs[s], s, ".") for s in sorted(metadata.sensors)], axis=-1)
                value = _dense(value_embed, 1, "v_values_head_0/output")
            with v1.variable_scope(contract.network_scope("main", 1)):
                embedded = tf.concat([_embed(inputs[s], s, ".") for s in sorted(metadata.sensors)], axis=-1)
                with v1.variable_scope("ppo_head_0"):
                    if metadata.is_discrete:
                        logits = _dense(embedded, metadata.num_actions, "policy_fc")
                        policy = tf.nn.softmax(logits, name="policy")
                        tf.maximum(policy, 1e-8)
                    else:
                        mean = _dense(embedded, 2, "policy_mean")
                        policy = tf.identity(mean, name="policy")
            outputs = [policy]
            loss = tf.reduce_mean(tf.square(value)) - tf.reduce_mean(tf.math.log(tf.abs(policy) + 1e-8))
        v1.train.AdamOptimizer(1e-3).minimize(loss)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    return BuiltPolicy(graph=graph, session=session, metadata=metadata, inputs=inputs, outputs=outputs)


def observation_for(metadata: ModelMetadata, seed: int = 0) -> dict:
    from markov.graph.layer_tables import observation_shape

    rng = np.random.default_rng(seed)
    result = {}
    for sensor in metadata.sensors:
        shape = observation_shape(sensor, metadata.lidar_config)
        if len(shape) == 3:
            result[sensor] = rng.integers(0, 256, size=shape).astype(np.float32)
        else:
            result[sensor] = rng.uniform(0.15, 1.0, size=shape).astype(np.float32)
    return result
