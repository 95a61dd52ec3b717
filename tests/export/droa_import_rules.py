"""DRoA's import rules, restated from its code, to check an archive as DRoA's validators would.

Written from aws-solutions/deepracer-on-aws (commit 15142da) and kept independent of our
exporter, so that a test comparing the two can fail:

- ``source/libs/lambda/src/api/handlers/importModel.ts``: the four files it parses, SAC only
  with a continuous action space and ``num_episodes_between_training === 1`` (a JSON number),
  continuous bounds low < high;
- ``.../import-workflow/utils/ImportHelper.ts``: ``ip/hyperparameters.json``,
  ``training_params.yaml`` (``WORLD_NAME``, ``TRACK_DIRECTION_CLOCKWISE`` must be the boolean
  true for clockwise, ``BODY_SHELL_TYPE``, ``CAR_COLOR``), metrics under
  ``metrics/training/`` as a ``training-*.json``;
- ``.../api/utils/validation.ts``: track id known and direction enabled; shell/colour pair;
- ``source/libs/model/src/main/smithy/types/model.smithy``: the ``Hyperparameters`` schema
  (ranges and the ``LossType``/``ExplorationType`` enums) and the action-space ranges that
  model cloning validates;
- ``source/libs/config/src/data/tracks.json``: track ids and enabled directions (the ones a
  test here can produce; the full list has about 60).
"""
from __future__ import annotations

import json
import math

import yaml

CLOCKWISE, COUNTER_CLOCKWISE = "CLOCKWISE", "COUNTER_CLOCKWISE"
TRACKS = {  # trackId: (defaultDirection, enabledDirections)
    "reInvent2019_wide": (CLOCKWISE, (CLOCKWISE, COUNTER_CLOCKWISE)),
    "reInvent2019_track": (COUNTER_CLOCKWISE, (CLOCKWISE, COUNTER_CLOCKWISE)),
    "2022_reinvent_champ": (COUNTER_CLOCKWISE, (CLOCKWISE, COUNTER_CLOCKWISE)),
    "Oval_track": (COUNTER_CLOCKWISE, (COUNTER_CLOCKWISE,)),
    "LGSWide": (COUNTER_CLOCKWISE, (COUNTER_CLOCKWISE,)),
    "Austin": (COUNTER_CLOCKWISE, (COUNTER_CLOCKWISE,)),
}
DEEPRACER_SHELL_COLOURS = {"BLACK", "BLUE", "GREY", "ORANGE", "PURPLE", "RED", "WHITE"}  # SimAppCarShells[DEEPRACER]
CAR_COLORS = DEEPRACER_SHELL_COLOURS | {"BROWN", "GOLDEN", "GOLDENPINK", "GREEN", "PINK", "SKY_BLUE", "TEAL", "YELLOW"}
LOSS_TYPE_ENUM = {"mean_squared_error", "huber"}
EXPLORATION_TYPE_ENUM = {"categorical", "e-greedy"}
# name: (required, integer, min, max)
HYPERPARAMETER_SCHEMA = {
    "batch_size": (True, True, 1, None),
    "num_epochs": (False, True, 3, 10),
    "stack_size": (False, True, 1, None),
    "lr": (True, False, 0.00000001, 0.001),
    "beta_entropy": (False, False, 0.0, 1.0),
    "e_greedy_value": (False, False, 0.0, 1.0),
    "epsilon_steps": (False, True, 1, None),
    "discount_factor": (True, False, 0.0, 1.0),
    "num_episodes_between_training": (True, True, 1, 100),
    "sac_alpha": (False, False, 0.0, None),
}


def droa_import_errors(files: dict[str, bytes]) -> list[str]:
    """Every rule of DRoA's import and clone validation that ``files`` (archive root) breaks."""
    errors: list[str] = []
    for name in ("training_params.yaml", "model_metadata.json", "reward_function.py", "ip/hyperparameters.json"):
        if name not in files:
            errors.append(f"missing {name}")
    if errors:
        return errors
    params = yaml.safe_load(files["training_params.yaml"])
    metadata = json.loads(files["model_metadata.json"])
    hyper = json.loads(files["ip/hyperparameters.json"])
    errors += _track_errors(params) + _car_errors(params)
    algorithm, space_type = metadata.get("training_algorithm"), metadata.get("action_space_type")
    if algorithm == "sac" and space_type == "discrete":
        errors.append("SAC with a discrete action space")
    if algorithm == "sac" and not (type(hyper.get("num_episodes_between_training")) is int and hyper["num_episodes_between_training"] == 1):
        errors.append("SAC with num_episodes_between_training !== 1")
    errors += _action_space_errors(metadata["action_space"])
    errors += _hyperparameter_errors(hyper)
    code = files["reward_function.py"].decode("utf-8")
    if not 1 <= len(code) <= 140000:
        errors.append("reward function length outside 1..140000")
    metrics = [n for n in files if n.startswith("metrics/training/") and "training-" in n and n.endswith(".json")]
    for name in metrics:
        body = json.loads(files[name])
        if not isinstance(body.get("metrics"), list):
            errors.append(f"{name}: no 'metrics' list")
    return errors


def _track_errors(params: dict) -> list[str]:
    track = TRACKS.get(params.get("WORLD_NAME"))
    if track is None:
        return [f"WORLD_NAME {params.get('WORLD_NAME')!r} is not a DRoA track"]
    default, enabled = track
    if len(enabled) == 1:
        direction = default
    else:
        direction = CLOCKWISE if params.get("TRACK_DIRECTION_CLOCKWISE") is True else COUNTER_CLOCKWISE
    return [] if direction in enabled else [f"track {params['WORLD_NAME']} not enabled {direction}"]


def _car_errors(params: dict) -> list[str]:
    shell = params.get("BODY_SHELL_TYPE")
    if shell == "deepracer":
        colour = str(params.get("CAR_COLOR", "")).upper()
        colour = colour if colour in CAR_COLORS else "WHITE"  # getCarCustomization keeps WHITE for unknown colours
        return [] if colour in DEEPRACER_SHELL_COLOURS else [f"deepracer shell not available in {colour}"]
    return [] if shell is None else [f"BODY_SHELL_TYPE {shell!r} is not one this checker knows"]


def _action_space_errors(space) -> list[str]:
    if isinstance(space, list):
        errors = [] if 2 <= len(space) <= 30 else [f"{len(space)} discrete actions (DRoA: 2..30)"]
        for action in space:
            if not 0.1 <= action["speed"] <= 4.0 or not -30.0 <= action["steering_angle"] <= 30.0:
                errors.append(f"discrete action {action} outside speed 0.1..4, steering -30..30")
        return errors
    speed, steer = space["speed"], space["steering_angle"]
    errors = []
    if not (0.5 <= speed["low"] <= 4.0 and 0.5 <= speed["high"] <= 4.0) or speed["low"] >= speed["high"]:
        errors.append(f"continuous speed {speed} (DRoA: 0.5..4, low < high)")
    if not (-30.0 <= steer["low"] <= 0.0 and 0.0 <= steer["high"] <= 30.0) or steer["low"] >= steer["high"]:
        errors.append(f"continuous steering {steer} (DRoA: low -30..0, high 0..30, low < high)")
    return errors


def _hyperparameter_errors(hyper: dict) -> list[str]:
    errors = []
    if hyper.get("loss_type") not in LOSS_TYPE_ENUM:
        errors.append(f"loss_type {hyper.get('loss_type')!r} not in {sorted(LOSS_TYPE_ENUM)}")
    if hyper.get("exploration_type") not in EXPLORATION_TYPE_ENUM:
        errors.append(f"exploration_type {hyper.get('exploration_type')!r} not in {sorted(EXPLORATION_TYPE_ENUM)}")
    for name, (required, integer, low, high) in HYPERPARAMETER_SCHEMA.items():
        if name not in hyper:
            if required:
                errors.append(f"missing hyperparameter {name}")
            continue
        value = hyper[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            errors.append(f"{name} {value!r} is not a JSON {'integer' if integer else 'number'}")
        elif math.isnan(value) or value < low or (high is not None and value > high):
            errors.append(f"{name} {value!r} outside {low}..{high}")
    return errors
