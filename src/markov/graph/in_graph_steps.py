"""Two of Coach's per-iteration session calls done inside TensorFlow: the training step and the
copy of the online weights into the target network.

Coach 1.0.1 moves whole weight sets through NumPy in both. It trains a network in two session
runs: the first computes the gradients and copies them out, the second feeds them back through
placeholders into the optimizer; for the shallow camera network (two bodies of about 5.8 M
weights each under Clipped PPO) that is 45 MB out and 45 MB back per minibatch, 130 minibatches
an iteration, and the arrays held between the runs (``accumulated_gradients``) stay resident.
Its target update fetches the online and the target weights (90 MB), blends them in NumPy and
feeds the result back, which is the trainer's peak of memory. Here the same computations are
graph ops, added once before the session first runs:

* the optimizer's update on the gradients tensors themselves, which Coach's own
  ``accumulate_gradients`` runs in the same session run as the gradients. The same optimizer
  object, so the same Adam slots, beta powers and learning rate, and no new variable;
* ``target.assign(rate * online + (1 - rate) * target)`` per weight, and a plain assignment for
  rate 1, Coach's formula without the round trip.

The checkpoint contract (docs/protocol.md §3.4) is untouched, and ``graphdef.pb`` is written
without these ops (``manager.DeepRacerGraphManager.create_session``); they are not on the path
of any exported output. Networks that train another way keep Coach's code: distributed
(global) networks, LSTM middleware (its state is one of the fetches), batch-norm update ops,
L-BFGS, networks with a weight the loss does not reach (SAC's policy, which applies gradients
it computes itself), and any call that scales the gradients.
"""
from __future__ import annotations

import logging
import types

import tensorflow as tf

log = logging.getLogger(__name__)

v1 = tf.compat.v1


def install_in_graph_steps(graph_manager) -> int:
    """Give the agent's networks the in-graph training step and target update; returns how many networks."""
    installed = 0
    with graph_manager.graph.as_default():
        for wrapper in graph_manager.get_agent().networks.values():
            if wrapper.global_network is not None:
                continue
            if _trains_plainly(wrapper.online_network):
                _install_train_step(wrapper, wrapper.online_network)
                installed += 1
            if wrapper.target_network is not None:
                _install_target_update(wrapper)
    return installed


def _trains_plainly(network) -> bool:
    return (network.network_is_trainable and network.optimizer_type != "LBFGS"
            and network.middleware.__class__.__name__ != "LSTMMiddleware"
            and not v1.get_collection(v1.GraphKeys.UPDATE_OPS, scope=network.full_name)
            and len(network.train_fetches) == network.additional_fetches_start_idx == 4
            and all(gradient is not None for gradient in network.train_fetches[1]))


def _apply_op(network):
    """The optimizer's update on the (clipped) gradients, after every gradient is computed.

    The weights are reference variables that the update changes in place, and backward ops read
    them (a layer's input gradient multiplies by its kernel): the control dependency keeps every
    read before the first write, as Coach's two runs did.
    """
    gradients = network.train_fetches[1]  # clipped_grads when the network clips, else tensor_gradients
    with tf.name_scope(f"{network.full_name}/in_graph_train_step"), tf.control_dependencies(gradients):
        return network.optimizer.apply_gradients(zip(gradients, network.weights), global_step=network.global_step)


def _install_train_step(wrapper, network) -> None:
    """Route ``train_and_sync_networks`` and ``train_on_batch`` through one run of Coach's own feed logic.

    ``accumulate_gradients`` builds the feed (inputs, targets, importance weights) and runs
    ``train_fetches``; for the call it runs the update instead of fetching the gradients, so
    nothing is accumulated and the step is done when it returns.
    """
    coach_fetches = list(network.train_fetches)
    one_run_fetches = [coach_fetches[0], [], *coach_fetches[2:], _apply_op(network)]
    coach_train_on_batch = network.train_on_batch

    def run_once(inputs, targets, additional_fetches=None, importance_weights=None):
        network.accumulated_gradients = []  # not None: Coach would allocate a zeroed copy of every weight
        network.train_fetches = one_run_fetches
        network.additional_fetches_start_idx = len(one_run_fetches)
        try:
            return network.accumulate_gradients(inputs, targets, additional_fetches=additional_fetches or [],
                                                importance_weights=importance_weights, no_accumulation=True)
        finally:
            network.train_fetches = coach_fetches
            network.additional_fetches_start_idx = len(coach_fetches)

    def train_and_sync_networks(self, inputs, targets, additional_fetches=None, importance_weights=None,
                                use_inputs_for_apply_gradients=False):
        return run_once(inputs, targets, additional_fetches, importance_weights)

    def train_on_batch(self, inputs, targets, scaler=1., additional_fetches=None, importance_weights=None):
        if scaler != 1.:
            network.accumulated_gradients = None  # Coach's path accumulates into zeroed arrays it allocates
            return coach_train_on_batch(inputs, targets, scaler, additional_fetches, importance_weights)
        return run_once(inputs, targets, additional_fetches, importance_weights)

    wrapper.train_and_sync_networks = types.MethodType(train_and_sync_networks, wrapper)
    network.train_on_batch = types.MethodType(train_on_batch, network)


def _install_target_update(wrapper) -> None:
    """``update_target_network(rate)`` as assign ops: Coach's blend of online into target weights."""
    online, target = wrapper.online_network.weights, wrapper.target_network.weights
    with tf.name_scope(f"{wrapper.target_network.full_name}/in_graph_update"):
        rate_input = v1.placeholder(tf.float32, (), name="rate")
        copy = tf.group(*(t.assign(o) for t, o in zip(target, online)))
        blend = tf.group(*(t.assign(rate_input * o + (1.0 - rate_input) * t) for t, o in zip(target, online)))

    def update_target_network(self, rate=1.0):
        session = self.target_network.sess  # the session exists only after the graph is built
        if rate == 1.0:
            session.run(copy)
        else:
            session.run(blend, {rate_input: rate})

    wrapper.update_target_network = types.MethodType(update_target_network, wrapper)
