"""Hyperparameters: names, defaults and ranges (docs/protocol.md §1.4), and where they come from.

The parsed values are echoed to ``ip/hyperparameters.json``, which *is* the rollout workers'
configuration: they rebuild their agent from it. So names and defaults here must stay those of
the simulation image, and values arriving as strings (as SageMaker sends them) are accepted.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from markov.errors import ConfigError

log = logging.getLogger(__name__)

EXPLORATION_TYPES = ("categorical", "e-greedy")
LOSS_TYPES = ("mean squared error", "huber")

# Keys the image echoes for every algorithm, plus the algorithm-specific ones (§1.4 "Echo file").
COMMON_ECHO_KEYS = (
    "batch_size", "discount_factor", "e_greedy_value", "epsilon_steps", "exploration_type",
    "loss_type", "lr", "num_episodes_between_training", "stack_size", "term_cond_avg_score",
    "term_cond_max_episodes",
)
ALGORITHM_ECHO_KEYS = {"clipped_ppo": ("beta_entropy", "num_epochs"), "sac": ("sac_alpha",)}


@dataclass(frozen=True)
class HyperParameters:
    """Training hyperparameters with the simulation image's defaults (docs/protocol.md §1.4).

    The names are the image's, including the misleading ones: they are the keys users already
    have in their hyperparameters.json files and the keys the rollout workers read back.

    Attributes:
        batch_size: transitions per gradient step. An iteration that brings fewer transitions
            trains with the largest power of two that fits (§7.1).
        num_epochs: PPO only: passes over one iteration's transitions.
        stack_size: observations stacked per network input. Parsed and echoed; today's image
            (and so this trainer) always stacks 1, the 2020 image stacked ``stack_size`` (and so
            does this trainer with ``--redis_protocol 2020``).
        lr: the Adam learning rate of every network.
        exploration_type: ``categorical`` (sample an action from the policy) or ``e-greedy``
            (discrete action spaces). It matters on the rollout side, which reads the echo.
        e_greedy_value: the final epsilon of ``e-greedy``.
        epsilon_steps: steps over which epsilon falls from 1 to ``e_greedy_value``.
        beta_entropy: PPO only: weight of the entropy bonus in the loss.
        discount_factor: gamma, the discount of future rewards (DRfC's default file uses 0.99).
        loss_type: the value loss: ``mean squared error`` or ``huber``.
        num_episodes_between_training: episodes all rollout workers together play per training
            iteration (PPO; a SAC iteration is one episode, §5.4).
        term_cond_max_episodes: despite its name, the number of *training iterations* after
            which the trainer stops (each iteration is ``num_episodes_between_training``
            episodes), not a number of episodes. ``local --iterations K`` sets it to K.
        term_cond_avg_score: parsed and echoed as the image does; neither the image nor this
            trainer stops on it.
        sac_alpha: SAC only: the entropy temperature.
        max_sample_count: how many sampled transitions to upload under ``<prefix>/samples/``
            (0, the default, uploads none; §4.3). Not echoed.
        sampling_frequency: upload every n-th transition while ``max_sample_count`` lasts.
            Not echoed.
    """

    batch_size: int = 64
    num_epochs: int = 10
    stack_size: int = 1
    lr: float = 0.0003
    exploration_type: str = "categorical"
    e_greedy_value: float = 0.05
    epsilon_steps: int = 10000
    beta_entropy: float = 0.01
    discount_factor: float = 0.999
    loss_type: str = "mean squared error"
    num_episodes_between_training: int = 20
    term_cond_max_episodes: int = 100000  # training iterations, not episodes (see above)
    term_cond_avg_score: float = 100000.0
    sac_alpha: float = 0.2
    max_sample_count: int = 0
    sampling_frequency: int = 1

    def echo_dict(self, training_algorithm: str) -> dict[str, Any]:
        """The dict the trainer publishes as ``ip/hyperparameters.json`` for this algorithm."""
        keys = COMMON_ECHO_KEYS + ALGORITHM_ECHO_KEYS[training_algorithm]
        values = asdict(self)
        return {key: values[key] for key in sorted(keys)}

    def echo_json(self, training_algorithm: str) -> str:
        """``ip/hyperparameters.json`` text: indent 2, sorted keys, as the image writes it."""
        return json.dumps(self.echo_dict(training_algorithm), indent=2, sort_keys=True)


# key -> (type, check, description of the allowed range)
_RULES = {
    "batch_size": (int, lambda v: v >= 1, "an integer >= 1"),
    "num_epochs": (int, lambda v: v >= 1, "an integer >= 1"),
    "stack_size": (int, lambda v: v >= 1, "an integer >= 1"),
    "lr": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "exploration_type": (str, lambda v: v in EXPLORATION_TYPES, "one of 'categorical', 'e-greedy'"),
    "e_greedy_value": (float, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "epsilon_steps": (int, lambda v: v >= 1, "an integer >= 1"),
    "beta_entropy": (float, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "discount_factor": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "loss_type": (str, lambda v: v in LOSS_TYPES, "one of 'mean squared error', 'huber'"),
    "num_episodes_between_training": (int, lambda v: v >= 1, "an integer >= 1"),
    "term_cond_max_episodes": (int, lambda v: v >= 1, "an integer >= 1"),
    "term_cond_avg_score": (float, lambda v: True, "a number"),
    "sac_alpha": (float, lambda v: v > 0, "a number > 0"),
    "max_sample_count": (int, lambda v: v >= 0, "an integer >= 0"),
    "sampling_frequency": (int, lambda v: v >= 1, "an integer >= 1"),
}
assert set(_RULES) == {f.name for f in fields(HyperParameters)}
HYPERPARAMETER_NAMES = frozenset(_RULES)


def parse_hyperparameters(raw: Mapping[str, Any] | None, source: str = "hyperparameters") -> HyperParameters:
    """Validate a hyperparameter dict; unknown keys are ignored (SageMaker mixes in its own).

    Raises:
        ConfigError: naming the source, the key, the value and the allowed range.
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a JSON object of hyperparameters, got {type(raw).__name__}")
    values: dict[str, Any] = {}
    for key, (kind, check, allowed) in _RULES.items():
        if key not in raw or raw[key] is None or raw[key] == "":
            continue
        value = _convert(raw[key], kind)
        if value is None or not check(value):
            raise ConfigError(f"{source}: hyperparameter '{key}' = {raw[key]!r} is invalid; it must be {allowed}")
        values[key] = value
    unknown = sorted(set(raw) - set(_RULES))
    if unknown:
        log.debug("ignoring non-hyperparameter keys from %s: %s", source, unknown)
    return HyperParameters(**values)


def _convert(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        return None
    if kind is str:
        return str(value).strip().lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if kind is int:
        return int(number) if number == int(number) else None
    return number


def hyperparameters_from_sm_training_env(value: str | None) -> tuple[dict[str, Any], str]:
    """Read the raw hyperparameter dict from the value of ``SM_TRAINING_ENV``.

    The value is either inline JSON, as SageMaker sets it, or the path to a JSON file (the
    Windows guide's fix). Either may hold the SageMaker wrapper ``{"hyperparameters": {...}}``
    or a bare dict. Returns the dict and a description of where it came from, for messages.

    Raises:
        ConfigError: for an unreadable file or malformed JSON, naming the file.
    """
    if value is None or not value.strip():
        return {}, "defaults (SM_TRAINING_ENV is not set)"
    text = value.strip()
    if text.startswith("{"):
        source = "SM_TRAINING_ENV (inline JSON)"
    else:
        path = Path(os.path.expanduser(text))
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"SM_TRAINING_ENV names {path}, which does not exist; point it at a hyperparameters JSON file") from None
        except OSError as exc:
            raise ConfigError(f"SM_TRAINING_ENV names {path}, which cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if "hyperparameters" in data:
        data = data["hyperparameters"]
        if isinstance(data, str):  # some launchers double-encode it
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}: 'hyperparameters' is a string that is not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: 'hyperparameters' must be a JSON object")
    return dict(data), source


def load_hyperparameters_file(path: str | Path) -> HyperParameters:
    """Read a hyperparameters.json file (bare dict or SageMaker wrapper) and validate it."""
    raw, source = hyperparameters_from_sm_training_env(str(path))
    return parse_hyperparameters(raw, source)
