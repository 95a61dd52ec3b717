"""markov.compat.distributions against closed forms (numpy/scipy), as Coach's heads use them."""
import numpy as np
import pytest
from scipy import stats

import markov.compat  # noqa: F401  (graph mode)
import tensorflow as tf
from markov.compat.distributions import Categorical, MultivariateNormalDiag, kl_divergence

v1 = tf.compat.v1

P = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], np.float32)
Q = np.array([[0.3, 0.3, 0.4], [0.2, 0.6, 0.2]], np.float32)
MU_A, SD_A = np.array([[0.5, -1.0]], np.float32), np.array([[0.3, 2.0]], np.float32)
MU_B, SD_B = np.array([[0.0, 1.0]], np.float32), np.array([[1.0, 0.5]], np.float32)


@pytest.fixture
def session():
    with tf.Graph().as_default(), v1.Session() as session:
        yield session


def test_categorical_log_prob_prob_entropy_and_mode(session):
    dist = Categorical(probs=P)
    actions = np.array([2, 0])
    log_prob, prob, entropy, mode = session.run(
        [dist.log_prob(actions), dist.prob(actions), dist.entropy(), dist.mode()])
    np.testing.assert_allclose(log_prob, np.log([0.7, 0.5]), rtol=1e-5)
    np.testing.assert_allclose(prob, [0.7, 0.5], rtol=1e-5)
    np.testing.assert_allclose(entropy, -(P * np.log(P)).sum(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(mode, [2, 0])


def test_categorical_from_logits_and_unnormalised_probs_agree(session):
    from_logits = Categorical(logits=np.log(P) + 3.0)
    from_probs = Categorical(probs=2.0 * P)
    np.testing.assert_allclose(*session.run([from_logits.log_prob([1, 1]), from_probs.log_prob([1, 1])]), rtol=1e-5)


def test_categorical_kl_divergence_closed_form(session):
    kl = session.run(kl_divergence(Categorical(probs=P), Categorical(probs=Q)))
    np.testing.assert_allclose(kl, (P * np.log(P / Q)).sum(axis=1), rtol=1e-5)


def test_categorical_samples_follow_the_probabilities(session):
    samples = session.run(Categorical(probs=P).sample(4000, seed=1))
    assert samples.shape == (4000, 2) and samples.dtype == np.int32
    np.testing.assert_allclose(np.bincount(samples[:, 0], minlength=3) / 4000, P[0], atol=0.03)


def test_gaussian_log_prob_entropy_mean_and_stddev(session):
    dist = MultivariateNormalDiag(MU_A, SD_A)
    x = np.array([[0.1, 0.4]], np.float32)
    log_prob, entropy, mean, stddev = session.run([dist.log_prob(x), dist.entropy(), dist.mean(), dist.stddev()])
    expected = stats.multivariate_normal(MU_A[0], np.diag(SD_A[0] ** 2))
    np.testing.assert_allclose(log_prob, [expected.logpdf(x[0])], rtol=1e-5)
    np.testing.assert_allclose(entropy, [expected.entropy()], rtol=1e-5)
    np.testing.assert_array_equal(mean, MU_A)
    np.testing.assert_array_equal(stddev, SD_A)


def test_gaussian_kl_divergence_closed_form(session):
    kl = session.run(kl_divergence(MultivariateNormalDiag(MU_A, SD_A), MultivariateNormalDiag(MU_B, SD_B)))
    expected = (np.log(SD_B / SD_A) + (SD_A ** 2 + (MU_A - MU_B) ** 2) / (2 * SD_B ** 2) - 0.5).sum(axis=1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)


def test_gaussian_samples_are_reparameterised(session):
    loc = tf.constant(MU_A)
    scale = tf.constant(SD_A)
    samples = MultivariateNormalDiag(loc, scale).sample(seed=3)
    gradients = tf.gradients(tf.reduce_sum(samples), [loc, scale])
    assert None not in gradients
    draws = session.run(MultivariateNormalDiag(loc, scale).sample(500, seed=4)).reshape(-1, 2)
    np.testing.assert_allclose(draws.mean(axis=0), MU_A[0], atol=0.3)
    np.testing.assert_allclose(draws.std(axis=0), SD_A[0], rtol=0.15)
    np.testing.assert_array_equal(session.run(gradients[0]), np.ones_like(MU_A))


def test_kl_divergence_refuses_mixed_families(session):
    with pytest.raises(NotImplementedError, match="Categorical, MultivariateNormalDiag"):
        kl_divergence(Categorical(probs=P), MultivariateNormalDiag(MU_A, SD_A))
