"""markov.compat.layers: TF1 tf.layers variable names, shapes and arithmetic, without Keras."""
import numpy as np
import pytest

import markov.compat  # noqa: F401  (graph mode)
import tensorflow as tf
from markov.compat import layers

v1 = tf.compat.v1


@pytest.fixture
def graph():
    with tf.Graph().as_default() as graph:
        yield graph


def _run(*fetches, feed=None):
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        return session.run(list(fetches), feed_dict=feed)


def _variables():
    return {v.op.name: v.get_shape().as_list() for v in v1.global_variables()}


def test_dense_names_kernel_and_bias_under_its_name_and_computes_affine_map(graph):
    inputs = v1.placeholder(tf.float32, [None, 3])
    with v1.variable_scope("head"):
        outputs = layers.dense(inputs, 2, activation=tf.nn.relu, name="policy_fc",
                               bias_initializer=v1.constant_initializer(0.5))
    assert _variables() == {"head/policy_fc/kernel": [3, 2], "head/policy_fc/bias": [2]}
    assert outputs.op.name == "head/policy_fc/Relu"
    x = np.array([[1.0, -2.0, 3.0]], np.float32)
    kernel, value = _run(v1.global_variables()[0], outputs, feed={inputs: x})
    np.testing.assert_allclose(value, np.maximum(x @ kernel + 0.5, 0.0), rtol=1e-6)


def test_unnamed_layers_are_numbered_per_enclosing_variable_scope_like_tf1(graph):
    inputs = v1.placeholder(tf.float32, [None, 4])
    with v1.variable_scope("q1_head"):
        layers.dense(inputs, 3)
        layers.dense(inputs, 3)
        layers.conv2d(tf.reshape(inputs, [-1, 2, 2, 1]), 1, 1)
    with v1.variable_scope("q2_head"):
        layers.dense(inputs, 3)
    assert set(_variables()) == {
        "q1_head/dense/kernel", "q1_head/dense/bias", "q1_head/dense_1/kernel", "q1_head/dense_1/bias",
        "q1_head/conv2d/kernel", "q1_head/conv2d/bias", "q2_head/dense/kernel", "q2_head/dense/bias"}


def test_dense_over_a_rank_3_input_applies_to_the_last_axis(graph):
    inputs = v1.placeholder(tf.float32, [None, 5, 4])
    outputs = layers.dense(inputs, 6, name="per_pixel")
    assert outputs.get_shape().as_list() == [None, 5, 6]
    x = np.random.RandomState(0).rand(2, 5, 4).astype(np.float32)
    kernel, value = _run(graph.get_tensor_by_name("per_pixel/kernel:0"), outputs, feed={inputs: x})
    np.testing.assert_allclose(value, x @ kernel, rtol=1e-5, atol=1e-7)  # the random kernel can put an output near 0


def test_unset_initializer_falls_back_to_the_scope_initializer_then_glorot_uniform(graph):
    inputs = v1.placeholder(tf.float32, [None, 300])
    with v1.variable_scope("scoped", initializer=v1.constant_initializer(0.25)):
        layers.dense(inputs, 200, name="a")
    layers.dense(inputs, 200, name="b")
    scoped, default, bias = _run(graph.get_tensor_by_name("scoped/a/kernel:0"),
                                 graph.get_tensor_by_name("b/kernel:0"), graph.get_tensor_by_name("b/bias:0"))
    assert np.all(scoped == 0.25)
    limit = np.sqrt(6.0 / (300 + 200))
    assert np.abs(default).max() <= limit and np.abs(default).max() > 0.9 * limit
    assert np.all(bias == 0.0)


@pytest.mark.parametrize("padding, expected", [("valid", [None, 8, 11, 32]), ("same", [None, 9, 12, 32])])
def test_conv2d_kernel_layout_and_output_shape(graph, padding, expected):
    inputs = v1.placeholder(tf.float32, [None, 36, 48, 3])
    outputs = layers.conv2d(inputs, filters=32, kernel_size=8, strides=4, padding=padding, name="Conv2d_0")
    assert _variables()["Conv2d_0/kernel"] == [8, 8, 3, 32]
    assert outputs.get_shape().as_list() == expected


def test_conv2d_matches_a_direct_correlation(graph):
    inputs = v1.placeholder(tf.float32, [None, 4, 4, 1])
    outputs = layers.conv2d(inputs, 1, 2, strides=2, name="c", bias_initializer=v1.constant_initializer(1.0))
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    kernel, value = _run(graph.get_tensor_by_name("c/kernel:0"), outputs, feed={inputs: x})
    expected = [[(x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0] * kernel[:, :, 0, 0]).sum() + 1.0 for j in range(2)]
                for i in range(2)]
    np.testing.assert_allclose(value[0, :, :, 0], expected, rtol=1e-5)


def test_dropout_drops_only_while_training(graph):
    inputs = tf.ones([1000])
    training = v1.placeholder_with_default(False, [])
    outputs = layers.dropout(inputs, 0.5, training=training)
    inferred, trained = _run(outputs, outputs, feed=None)[0], _run(outputs, feed={training: True})[0]
    assert np.all(inferred == 1.0)
    assert set(np.unique(trained)) <= {0.0, 2.0} and 300 < np.count_nonzero(trained) < 700


def test_batch_normalization_variables_normalisation_and_update_ops(graph):
    inputs = v1.placeholder(tf.float32, [None, 2])
    training = v1.placeholder_with_default(False, [])
    outputs = layers.batch_normalization(inputs, training=training, name="bn")
    assert set(_variables()) == {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"}
    assert {v.op.name for v in v1.trainable_variables()} == {"bn/gamma", "bn/beta"}
    updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    x = np.array([[1.0, 10.0], [3.0, 30.0]], np.float32)
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        normalised, *_ = session.run([outputs] + updates, feed_dict={inputs: x, training: True})
        moving_mean = session.run(graph.get_tensor_by_name("bn/moving_mean:0"))
    np.testing.assert_allclose(normalised, [[-1.0, -1.0], [1.0, 1.0]], atol=1e-2)
    np.testing.assert_allclose(moving_mean, 0.01 * x.mean(axis=0), rtol=1e-5)


def test_flatten_keeps_the_static_size(graph):
    inputs = v1.placeholder(tf.float32, [None, 1, 2, 64])
    assert layers.flatten(inputs).get_shape().as_list() == [None, 128]
    x = np.random.RandomState(0).rand(3, 1, 2, 64).astype(np.float32)
    np.testing.assert_array_equal(_run(layers.flatten(inputs), feed={inputs: x})[0], x.reshape(3, 128))
