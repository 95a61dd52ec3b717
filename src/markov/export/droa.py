"""What DeepRacer on AWS (DRoA) accepts in an imported model's ``hyperparameters.json``.

DRoA stores the imported file as the model's hyperparameters and validates them against its
API schema (``Hyperparameters`` in ``source/libs/model/src/main/smithy/types/model.smithy``)
when the model is cloned or trained again; its import Lambda (``importModel.ts``) refuses a
SAC model unless ``num_episodes_between_training`` is the number 1. A file the import takes but
the schema refuses gives a model that imports and then cannot be cloned, so we write values
the schema accepts, or refuse with one line naming the key.

The image itself writes ``loss_type`` as ``"mean squared error"`` (docs/protocol.md §1.4); DRoA's
enum spells it ``mean_squared_error``. The image's parser only tests for ``huber``, so either
spelling trains the same.
"""
from __future__ import annotations

import logging
import math
from typing import Any

from markov.errors import ConfigError
from markov.hyperparameters import HyperParameters
from markov.model_metadata import SAC, ModelMetadata

log = logging.getLogger(__name__)

# DRoA's LossType and ExplorationType enums, keyed by the spellings the image and users write.
LOSS_TYPES = {"mean squared error": "mean_squared_error", "mean_squared_error": "mean_squared_error", "huber": "huber"}
EXPLORATION_TYPES = ("categorical", "e-greedy")

# key -> (integer?, minimum, maximum): the schema's PositiveInteger/NonNegativeDouble and @range bounds.
NUMBER_RULES: dict[str, tuple[bool, float, float | None]] = {
    "batch_size": (True, 1, None),
    "num_epochs": (True, 3, 10),
    "stack_size": (True, 1, None),
    "lr": (False, 1e-8, 1e-3),
    "beta_entropy": (False, 0.0, 1.0),
    "e_greedy_value": (False, 0.0, 1.0),
    "epsilon_steps": (True, 1, None),
    "discount_factor": (False, 0.0, 1.0),
    "num_episodes_between_training": (True, 1, 100),
    "sac_alpha": (False, 0.0, None),
}


def droa_hyperparameters(values: dict[str, Any], metadata: ModelMetadata, source: str = "hyperparameters.json") -> dict[str, Any]:
    """``values`` as DRoA's schema takes them: enum spellings, JSON numbers, SAC's one episode.

    Keys the file leaves out (DRoA requires several) get the defaults the trainer used for them,
    the image's defaults (:class:`markov.hyperparameters.HyperParameters`).

    Raises:
        ConfigError: a value lies outside what DRoA accepts (the message names the key, the
            value and DRoA's range).
    """
    out = {**HyperParameters().echo_dict(metadata.training_algorithm), **values}
    loss = str(out["loss_type"]).strip().lower()
    if loss not in LOSS_TYPES:
        raise ConfigError(f"{source}: loss_type {out['loss_type']!r}: DRoA accepts 'mean_squared_error' or 'huber'")
    out["loss_type"] = LOSS_TYPES[loss]
    exploration = str(out["exploration_type"]).strip().lower()
    if exploration not in EXPLORATION_TYPES:
        raise ConfigError(f"{source}: exploration_type {out['exploration_type']!r}: DRoA accepts 'categorical' or 'e-greedy'")
    out["exploration_type"] = exploration
    if metadata.training_algorithm == SAC and out.get("num_episodes_between_training") not in (1, "1"):
        # The SAC rollout plays one episode per iteration whatever the file says (§5.4): 1 is what it trained with.
        log.info("SAC model: writing num_episodes_between_training=1 for DRoA (the SAC rollout plays one episode per iteration)")
        out["num_episodes_between_training"] = 1
    for key, (integer, low, high) in NUMBER_RULES.items():
        if key in out:
            out[key] = _number(out[key], key, integer, low, high, source)
    return out


def _number(value: Any, key: str, integer: bool, low: float, high: float | None, source: str) -> int | float:
    """A JSON number in DRoA's range (the image's files may hold numeric strings, §1.4)."""
    bounds = f"{low:g}..{high:g}" if high is not None else f">= {low:g}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} {value!r} is not a number; DRoA accepts {bounds}") from None
    if math.isnan(number) or number < low or (high is not None and number > high) or (integer and not number.is_integer()):
        kind = "an integer " if integer else ""
        raise ConfigError(f"{source}: {key} {value!r}: DRoA accepts {kind}{bounds}")
    return int(number) if integer else number
