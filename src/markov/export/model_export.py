"""From a run's ``model/`` folder to a car or DRoA archive: pick, freeze, gather, pack.

The steps read top to bottom: open the folder (local or ``s3://``), resolve ``--step`` with
:mod:`markov.export.checkpoint_selection`, fetch the three checkpoint files, freeze them with
:mod:`markov.export.frozen_graph`, and lay the files out with :mod:`markov.export.archives`.
"""
from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from markov.errors import ConfigError
from markov.export import archives
from markov.export.droa import droa_hyperparameters
from markov.export.checkpoint_selection import (
    MODEL_METADATA,
    CheckpointName,
    ModelFolder,
    StoreModelFolder,
    open_local_model_folder,
    select_checkpoint,
)
from markov.model_metadata import ModelMetadata, parse_model_metadata
from markov.store import keys

log = logging.getLogger(__name__)

CAR = "car"
DROA = "droa"
FORMATS = (CAR, DROA)

# A track that exists in every simapp since 2019; DRoA needs WORLD_NAME to be one of its track ids.
DEFAULT_TRACK = "reInvent2019_wide"
_DIRECTION_SUFFIX = re.compile(r"_(cw|ccw)$")


def open_model_folder(location: str, *, endpoint_url: str | None = None, region: str | None = None) -> ModelFolder:
    """``s3://bucket/prefix`` (its ``model/``) or a local folder, as ``--checkpoint`` takes it."""
    if location.lower().startswith("s3://"):
        from markov.store.s3 import S3Store, endpoint_from_env

        bucket, prefix = keys.split_s3_uri(location)
        store = S3Store(bucket, endpoint_url=endpoint_url or endpoint_from_env(), region=region)
        model_prefix = prefix if prefix.rstrip("/").endswith("/model") or prefix == "model" else keys.join(prefix, keys.MODEL_DIR)
        return StoreModelFolder(store, model_prefix)
    return open_local_model_folder(location)


@dataclass
class ExportResult:
    path: Path
    checkpoint: CheckpointName
    metadata: ModelMetadata
    files: list[str]


def read_model_metadata(folder: ModelFolder, override: str | Path | None = None) -> tuple[ModelMetadata, bytes]:
    """The model's metadata: ``--model-metadata``, else ``model/model_metadata.json``, else the run root's."""
    if override is not None:
        data, source = Path(override).read_bytes(), str(override)
    else:
        data, source = folder.read(MODEL_METADATA), f"{folder.location}/{MODEL_METADATA}"
        if data is None:
            data, source = folder.read_run_file(MODEL_METADATA), f"{folder.location}/../{MODEL_METADATA}"
        if data is None:
            raise ConfigError(f"{folder.location}: no {MODEL_METADATA} next to the checkpoints; pass --model-metadata FILE")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: invalid JSON ({exc})") from None
    return parse_model_metadata(raw, source=source), data


def freeze_selected(folder: ModelFolder, checkpoint: CheckpointName, metadata: ModelMetadata, work_dir: Path) -> tuple[bytes, dict[str, Path]]:
    """Fetch a checkpoint's files into ``work_dir`` and freeze it; returns (model.pb bytes, files)."""
    from markov.export.frozen_graph import freeze_checkpoint

    files = {}
    for name in checkpoint.files():
        target = work_dir / name
        folder.fetch(name, target)
        files[name] = target
    return freeze_checkpoint(work_dir / checkpoint.name, metadata), files


def export_car(folder: ModelFolder, out: str | Path, step: str | int = "last", model_metadata: str | Path | None = None) -> ExportResult:
    """Write the car's ``model.tar.gz`` for the selected checkpoint."""
    out = Path(out)
    if archives.container_for(out) != archives.TAR_GZ:
        raise ConfigError(f"{out}: the car loads a .tar.gz; name the output *.tar.gz")
    metadata, metadata_bytes = read_model_metadata(folder, model_metadata)
    checkpoint = select_checkpoint(folder, step)
    with tempfile.TemporaryDirectory(prefix="deepracer-export-") as tmp:
        frozen, _ = freeze_selected(folder, checkpoint, metadata, Path(tmp))
    files = archives.car_archive_files(frozen, metadata_bytes)
    archives.write_archive(out, files)
    return ExportResult(out, checkpoint, metadata, sorted(files))


def export_droa(
    folder: ModelFolder,
    out: str | Path,
    step: str | int = "last",
    *,
    model_metadata: str | Path | None = None,
    reward_function: str | Path | None = None,
    hyperparameters: str | Path | None = None,
    training_params: str | Path | None = None,
    track: str | None = None,
    include_metrics: bool = True,
) -> ExportResult:
    """Write a DRoA virtual-model archive (zip or tar.gz by the name of ``out``)."""
    out = Path(out)
    archives.container_for(out)
    metadata, metadata_bytes = read_model_metadata(folder, model_metadata)
    # The run's copy at <prefix>/reward_function.py (DRfC copies it there, and so do init and our
    # rollout worker 0), else DRfC's and init's custom_files/reward_function.py at the bucket root.
    reward = _run_file(folder, reward_function, (archives.REWARD_FUNCTION,), "--reward-function", (keys.CUSTOM_REWARD_FUNCTION,))
    hyper = _droa_hyperparameters(
        _run_file(folder, hyperparameters, (keys.HYPERPARAMETERS, archives.HYPERPARAMETERS), "--hyperparameters",
                  (keys.CUSTOM_HYPERPARAMETERS,)), metadata
    )
    params = _training_params(folder, training_params, track)
    checkpoint = select_checkpoint(folder, step)
    metrics = _metrics(folder) if include_metrics else {}
    with tempfile.TemporaryDirectory(prefix="deepracer-export-") as tmp:
        frozen, checkpoint_files = freeze_selected(folder, checkpoint, metadata, Path(tmp))
        files = archives.droa_archive_files(
            model_metadata=metadata_bytes,
            reward_function=reward,
            hyperparameters=hyper,
            training_params=params,
            checkpoint_name=checkpoint.name,
            checkpoint_files=checkpoint_files,
            frozen_model=frozen,
            frozen_model_name=checkpoint.frozen_model,
            metrics=metrics,
        )
        archives.write_archive(out, files)
    return ExportResult(out, checkpoint, metadata, sorted(files))


def _run_file(folder: ModelFolder, override: str | Path | None, candidates: tuple[str, ...], flag: str,
              bucket_candidates: tuple[str, ...] = ()) -> bytes:
    """``override``, else the first of ``candidates`` under the run's prefix, else of
    ``bucket_candidates`` at the bucket root (where DRfC and ``init`` keep ``custom_files/``)."""
    if override is not None:
        try:
            return Path(override).read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{flag} {override}: file not found") from None
    for postfix in candidates:
        data = folder.read_run_file(postfix)
        if data is not None:
            return data
    for key in bucket_candidates:
        data = _bucket_file(folder, key)
        if data is not None:
            return data
    names = " or ".join(candidates + tuple(f"<bucket>/{key}" for key in bucket_candidates))
    raise ConfigError(f"{folder.location}: no {names} in the run; pass {flag} FILE")


def _bucket_file(folder: ModelFolder, key: str) -> bytes | None:
    """A file at the bucket root: through the store for ``s3://``, two folders above ``model/`` on disk."""
    from markov.store.backend import get_bytes_or_none

    if isinstance(folder, StoreModelFolder):
        return get_bytes_or_none(folder.store, key)
    path = getattr(folder, "path", None)
    if path is None:
        return None
    run_root = path.parent if path.name in ("model", "agent") else path
    try:
        return run_root.parent.joinpath(*key.split("/")).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _droa_hyperparameters(data: bytes, metadata: ModelMetadata, source: str = "hyperparameters.json") -> bytes:
    """hyperparameters.json as DRoA accepts it (:mod:`markov.export.droa`)."""
    try:
        values = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: invalid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    return json.dumps(droa_hyperparameters(values, metadata, source), indent=2, sort_keys=True).encode()


def _training_params(folder: ModelFolder, override: str | Path | None, track: str | None) -> bytes:
    """training_params.yaml for DRoA: the run's own (DRfC writes one), else one made from ``track``.

    DRoA's import reads WORLD_NAME (a DRoA track id, without DRfC's ``_cw``/``_ccw`` suffix),
    TRACK_DIRECTION_CLOCKWISE, BODY_SHELL_TYPE, CAR_COLOR and RACE_TYPE (``ImportHelper.ts``);
    the other keys follow DRfC's ``droa/import_model.py``.
    """
    data = None
    if override is not None:
        data = Path(override).read_bytes()
    else:
        for postfix in ("training_params.yaml", "training_params_1.yaml"):
            data = folder.read_run_file(postfix)
            if data is not None:
                break
    params: dict[str, Any] = {}
    if data is not None:
        try:
            params = yaml.safe_load(data.decode("utf-8")) or {}
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"training_params.yaml: invalid YAML ({exc})") from None
        if not isinstance(params, dict):
            raise ConfigError("training_params.yaml: expected a mapping of KEY: value")
    else:
        params = default_training_params(track or _recorded_track(folder) or DEFAULT_TRACK)
    if track:
        params["WORLD_NAME"] = track
    world = str(params.get("WORLD_NAME", DEFAULT_TRACK))
    suffix = _DIRECTION_SUFFIX.search(world)
    params["WORLD_NAME"] = _DIRECTION_SUFFIX.sub("", world)
    if "TRACK_DIRECTION_CLOCKWISE" not in params:
        params["TRACK_DIRECTION_CLOCKWISE"] = bool(suffix and suffix.group(1) == "cw")
    return yaml.safe_dump(params, default_flow_style=False, sort_keys=True, explicit_start=True).encode()


def _recorded_track(folder: ModelFolder) -> str | None:
    """The image track the run drove (``model/training_track.json``); None for our built-in tracks.

    DRoA knows only the image's tracks: a run on the built-in ``oval`` gets the default track.
    """
    from markov.training.track_record import IMAGE_WORLD, parse_track_record

    record = parse_track_record(folder.read(Path(keys.TRACK_RECORD).name))
    if record is None:
        return None
    if record.source != IMAGE_WORLD:
        log.info("The run drove %s, which is not a track of the image; WORLD_NAME %s (use --track to choose)",
                 record.name, DEFAULT_TRACK)
        return None
    return record.name


def default_training_params(track: str) -> dict[str, Any]:
    """A time-trial training_params.yaml for a run that has none (ours are trained without RoboMaker)."""
    return {
        "JOB_TYPE": "TRAINING",
        "RACE_TYPE": "TIME_TRIAL",
        "WORLD_NAME": track,
        "BODY_SHELL_TYPE": "deepracer",
        "CAR_COLOR": "Red",
        "CAR_NAME": "MyCar",
        "DISPLAY_NAME": "racer1",
        "RACER_NAME": "racer1",
        "ALTERNATE_DRIVING_DIRECTION": "false",
        "CHANGE_START_POSITION": "true",
        "ENABLE_DOMAIN_RANDOMIZATION": "false",
        "MIN_EVAL_TRIALS": "5",
        "MODEL_METADATA_FILE_S3_KEY": "model/model_metadata.json",
        "REWARD_FILE_S3_KEY": "reward_function.py",
    }


def _metrics(folder: ModelFolder) -> dict[str, bytes]:
    """Training metrics for DRoA's charts (optional): the rollout's ``metrics/TrainingMetrics*.json``."""
    found = {}
    for name in ("metrics/TrainingMetrics.json", "TrainingMetrics.json"):
        data = folder.read_run_file(name)
        if data is not None:
            found["training-metrics.json"] = data
            break
    return found
