"""Coach's Clipped PPO agent with a bounded-memory value pass.

Coach's ``fill_advantages`` predicts the state values of a whole iteration (~900 camera frames
with the default settings) in one session run; its activations alone cost 0.4–0.6 GB of peak
memory on the trainer (bench/train_iteration.py, docs/performance.md). The same prediction in
slices gives identical values for a fraction of the memory. Nothing else of Coach's agent changes.
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


class DeepRacerClippedPPOAgent(ClippedPPOAgent):
    """Clipped PPO whose advantage pass predicts state values in slices of ``PREDICTION_CHUNK``."""

    def fill_advantages(self, batch):
        network = self.networks["main"].online_network
        whole_batch_predict = network.predict
        network.predict = lambda inputs, *args, **kwargs: predict_in_chunks(
            whole_batch_predict, PREDICTION_CHUNK, inputs, *args, **kwargs)
        try:
            return super().fill_advantages(batch)
        finally:
            del network.predict  # back to the class's method


class DeepRacerClippedPPOAgentParameters(ClippedPPOAgentParameters):
    """Coach's Clipped PPO parameters, building :class:`DeepRacerClippedPPOAgent`."""

    @property
    def path(self) -> str:
        return "markov.graph.ppo_agent:DeepRacerClippedPPOAgent"
