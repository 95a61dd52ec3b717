"""Coach's Clipped PPO agent with a bounded-memory value pass.

Coach's ``fill_advantages`` predicts the state values of a whole iteration (~900 camera frames
with the default settings) in one session run; its activations alone cost 0.4–0.6 GB of peak
memory on the trainer (bench/train_iteration.py, docs/performance.md). The same prediction in
slices gives identical values for a fraction of the memory.

It also records two of Stable-Baselines3's PPO diagnostics as Coach signals, read once per
iteration for the progress line: the explained variance of the value predictions and the clip
fraction of the likelihood ratio. Nothing of Coach's training changes.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import markov.compat  # noqa: F401  (Coach modules load through the bridge)
from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgent, ClippedPPOAgentParameters

PREDICTION_CHUNK = 128


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


class DeepRacerClippedPPOAgent(ClippedPPOAgent):
    """Clipped PPO whose advantage pass predicts state values in slices of ``PREDICTION_CHUNK``.

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
        network.predict = lambda inputs, *args, **kwargs: predict_in_chunks(
            whole_batch_predict, PREDICTION_CHUNK, inputs, *args, **kwargs)
        try:
            super().fill_advantages(batch)
        finally:
            del network.predict  # back to the class's method
        # Coach's fill_advantages adds this batch's predicted values to state_values last.
        predicted = np.asarray(self.state_values.values[-1], dtype=np.float64).reshape(-1)
        targets = np.asarray(batch.info("gae_based_value_target"), dtype=np.float64).reshape(-1)
        variance = explained_variance(predicted, targets) if len(predicted) == len(targets) else None
        if variance is not None:
            self.explained_variance.add_sample(variance)

    def train_network(self, batch, epochs):
        first = len(self.likelihood_ratio.values)
        losses = super().train_network(batch, epochs)
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
