"""Coach's Clipped PPO agent with a bounded-memory value pass.

Coach's ``fill_advantages`` predicts the state values of a whole iteration (~900 camera frames
with the default settings) in one session run; its activations alone cost 0.4–0.6 GB of peak
memory on the trainer (bench/train_iteration.py, docs/performance.md). The same prediction in
slices gives identical values for a fraction of the memory.

That value pass also yields the old policy. Coach's ``train_network`` asks the target network
("old policy") for its action distribution once per mini-batch of every epoch, though the target
does not change during training (Coach's own TODO says so): ten forward passes over the batch for
one. Coach's ``train`` syncs the target to the online weights right before ``fill_advantages``, so
the online network's policy outputs of the value pass *are* the old policy; they are kept with
each transition and handed to ``train_network`` in place of the target's predictions. The same
numbers, about a quarter fewer FLOPs per iteration (bench/train_iteration.py, docs/performance.md).

It also records two of Stable-Baselines3's PPO diagnostics as Coach signals, read once per
iteration for the progress line: the explained variance of the value predictions and the clip
fraction of the likelihood ratio. Nothing else of Coach's training changes.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import markov.compat  # noqa: F401  (Coach modules load through the bridge)
from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgent, ClippedPPOAgentParameters

PREDICTION_CHUNK = 128
OLD_POLICY_INFO = "old_policy_distribution"  # transition.info key: the policy head's outputs before training


def predict_in_chunks(predict: Callable[..., Any], chunk: int, inputs: dict, *args: Any, **kwargs: Any) -> Any:
    """``predict(inputs)`` computed ``chunk`` rows at a time, with the same return structure.

    Outputs whose first dimension is the batch are concatenated; any other output (a value that
    does not depend on the batch) is taken from the first slice.
    """
    rows = len(next(iter(inputs.values())))
    if rows <= chunk:
        return predict(inputs, *args, **kwargs)
    parts = [predict({key: value[start:start + chunk] for key, value in inputs.items()}, *args, **kwargs)
             for start in range(0, rows, chunk)]
    return _join(parts, rows)


def _join(parts: list, rows: int) -> Any:
    first = parts[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_join([part[i] for part in parts], rows) for i in range(len(first)))
    if isinstance(first, np.ndarray) and first.ndim and sum(len(part) for part in parts) == rows:
        return np.concatenate(parts, axis=0)
    return first


def explained_variance(predicted: np.ndarray, targets: np.ndarray) -> float | None:
    """1 - Var(targets - predicted) / Var(targets), as SB3 reports it; None when the targets are constant.

    1 means the value head predicts the returns perfectly, 0 no better than their mean, and
    negative worse than that.
    """
    variance = float(np.var(targets))
    if not np.isfinite(variance) or variance == 0.0:
        return None
    return 1.0 - float(np.var(targets - predicted)) / variance


class OldPolicyFromValuePass:
    """Stands in for ``target_network.predict`` inside Coach's ``train_network``.

    Coach calls it once per mini-batch, in order, right after each epoch's shuffle, with the
    states of rows ``[i * batch_size, (i + 1) * batch_size)`` of the shuffled batch. It answers
    from the outputs :meth:`DeepRacerClippedPPOAgent.fill_advantages` stored on those rows'
    transitions. A call it cannot answer (rows without stored outputs, or states that are not
    the rows it expects) goes to the real predict, so a change in Coach's loop costs speed, not
    correctness.
    """

    def __init__(self, predict: Callable[..., Any], batch: Any, batch_size: int, keys: list[str]) -> None:
        self._predict = predict
        self._batch = batch
        self._batch_size = batch_size
        self._keys = keys
        self._per_epoch = max(1, batch.size // batch_size)
        self._calls = 0

    def __call__(self, inputs: dict, *args: Any, **kwargs: Any) -> Any:
        start = (self._calls % self._per_epoch) * self._batch_size
        self._calls += 1
        rows = len(next(iter(inputs.values())))
        transitions = self._batch.transitions[start:start + rows]
        if args or kwargs or not self._matches(transitions, inputs, rows):
            return self._predict(inputs, *args, **kwargs)
        outputs = [t.info[OLD_POLICY_INFO] for t in transitions]
        # The value head's output (index 0) is not used by Coach's loop; the policy outputs follow it.
        return [None] + [np.stack([row[i] for row in outputs]) for i in range(len(outputs[0]))]

    def _matches(self, transitions: list, inputs: dict, rows: int) -> bool:
        if len(transitions) != rows or any(OLD_POLICY_INFO not in t.info for t in transitions):
            return False
        key = self._keys[0]  # one frame of each end: cheap, and catches a different order
        return bool(np.array_equal(inputs[key][0], transitions[0].state[key])
                    and np.array_equal(inputs[key][-1], transitions[-1].state[key]))


class DeepRacerClippedPPOAgent(ClippedPPOAgent):
    """Clipped PPO whose advantage pass predicts state values in slices of ``PREDICTION_CHUNK``
    and whose training epochs take the old policy from that pass (:class:`OldPolicyFromValuePass`).

    Signals added to Coach's: ``explained_variance`` (value predictions before training against
    the GAE value targets) and ``clip_fraction`` (share of likelihood ratios the clipping changed,
    over every mini-batch of every epoch).
    """

    def __init__(self, agent_parameters, parent=None) -> None:
        super().__init__(agent_parameters, parent)
        self.explained_variance = self.register_signal("Explained Variance")
        self.clip_fraction = self.register_signal("Clip Fraction")

    def fill_advantages(self, batch):
        network = self.networks["main"].online_network
        whole_batch_predict = network.predict
        outputs: list = []

        def sliced_predict(inputs, *args, **kwargs):
            result = predict_in_chunks(whole_batch_predict, PREDICTION_CHUNK, inputs, *args, **kwargs)
            outputs.append(result)
            return result

        network.predict = sliced_predict
        try:
            super().fill_advantages(batch)
        finally:
            del network.predict  # back to the class's method
        self._keep_old_policy(batch, outputs)
        # Coach's fill_advantages adds this batch's predicted values to state_values last.
        predicted = np.asarray(self.state_values.values[-1], dtype=np.float64).reshape(-1)
        targets = np.asarray(batch.info("gae_based_value_target"), dtype=np.float64).reshape(-1)
        variance = explained_variance(predicted, targets) if len(predicted) == len(targets) else None
        if variance is not None:
            self.explained_variance.add_sample(variance)

    def _keep_old_policy(self, batch, outputs: list) -> None:
        """Store the value pass's policy outputs on each transition (valid until the next sync)."""
        for transition in batch.transitions:
            transition.info.pop(OLD_POLICY_INFO, None)  # never an earlier sync's
        if len(outputs) != 1 or not isinstance(outputs[0], (list, tuple)) or len(outputs[0]) < 2:
            return  # not the one whole-batch pass Coach's fill_advantages makes: train_network predicts
        policy = outputs[0][1:]
        if any(len(output) != batch.size for output in policy):
            return
        for row, transition in enumerate(batch.transitions):
            transition.info[OLD_POLICY_INFO] = tuple(output[row] for output in policy)

    def train_network(self, batch, epochs):
        first = len(self.likelihood_ratio.values)
        wrapper = self.networks["main"]
        keys = list(self.ap.network_wrappers["main"].input_embedders_parameters.keys())
        wrapper.target_network.predict = OldPolicyFromValuePass(
            wrapper.target_network.predict, batch, self.ap.network_wrappers["main"].batch_size, keys)
        try:
            losses = super().train_network(batch, epochs)
        finally:
            del wrapper.target_network.predict  # back to the class's method
        ratios = self.likelihood_ratio.values[first:]
        if ratios:
            clipped = self.clipped_likelihood_ratio.values[first:]
            changed = np.concatenate([np.ravel(r) for r in ratios]) != np.concatenate([np.ravel(c) for c in clipped])
            self.clip_fraction.add_sample(float(np.mean(changed)))
        return losses


class DeepRacerClippedPPOAgentParameters(ClippedPPOAgentParameters):
    """Coach's Clipped PPO parameters, building :class:`DeepRacerClippedPPOAgent`."""

    @property
    def path(self) -> str:
        return "markov.graph.ppo_agent:DeepRacerClippedPPOAgent"
