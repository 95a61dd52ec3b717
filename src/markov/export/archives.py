"""The two archives a trained model leaves in: the car's tar.gz and DRoA's virtual-model import.

Layouts, and where they come from:

- **Car** (``model.tar.gz``): ``agent/model.pb`` and ``model_metadata.json`` at the archive root.
  That is what DRfC's ``scripts/upload/create-car-zip.sh`` packs (PR #213, 2026-06; before it,
  ``upload-car.sh`` tarred the SageMaker ``/opt/ml/model`` folder, which holds the same two
  files, docs/protocol.md §1.6) and what the car's model loader unpacks.
- **DRoA virtual model**: DRoA's ``source/docs/import/README.md`` lists, at the folder root,
  ``model_metadata.json``, ``reward_function.py``, ``training_params.yaml`` and
  ``hyperparameters.json``; under ``model/`` the ``.coach_checkpoint`` and the ckpt files;
  optionally ``metrics/training/training-*.json``; under 1 GB in all. Its import Lambda
  (``ImportHelper.parseHyperparameters``) reads ``ip/hyperparameters.json`` instead, and DRfC's
  ``droa/import_model.py`` uploads it there, so we write both. Like DRfC we also keep
  ``model/model_metadata.json``, ``model/model_<n>.pb`` and a ``model/deepracer_checkpoints.json``
  naming the chosen checkpoint as both best and last.
  DRoA's import page takes a *folder*; its own export is a ZIP although named ``.tar.gz``
  (DRoA issue #31). We write either container, chosen by the output name, with the files at the
  archive root: unpack into an empty folder and choose that folder.

Reading validates: a missing part, a frozen graph whose inputs or action count disagree with its
model_metadata.json, each give one line naming the archive and the part.
"""
from __future__ import annotations

import gzip
import io
import logging
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Mapping, Union

from markov.checkpoint_names import COACH_CHECKPOINT_FILE
from markov.checkpoint_records import FILE_NAME as RECORDS_FILE_NAME, checkpoint_records_json
from markov.errors import ConfigError
from markov.model_metadata import ModelMetadata, parse_model_metadata
from markov.store.atomic import atomic_write

log = logging.getLogger(__name__)

CAR_MODEL_PB = "agent/model.pb"
MODEL_METADATA = "model_metadata.json"
REWARD_FUNCTION = "reward_function.py"
TRAINING_PARAMS = "training_params.yaml"
HYPERPARAMETERS = "hyperparameters.json"
IP_HYPERPARAMETERS = "ip/hyperparameters.json"
DROA_MODEL_DIR = "model"
DROA_METRICS_DIR = "metrics/training"
DROA_POINTER = f"{DROA_MODEL_DIR}/{COACH_CHECKPOINT_FILE}"
DROA_REQUIRED = (MODEL_METADATA, REWARD_FUNCTION, TRAINING_PARAMS, HYPERPARAMETERS, DROA_POINTER)
# "must be under 1GB" (DRoA import README); read as 10^9 bytes to stay on the safe side.
DROA_SIZE_LIMIT = 1_000_000_000

ZIP = "zip"
TAR_GZ = "tar.gz"

Content = Union[bytes, Path]


def container_for(path: str | Path) -> str:
    """``zip`` or ``tar.gz`` from the output file name."""
    name = Path(path).name.lower()
    if name.endswith(".zip"):
        return ZIP
    if name.endswith((".tar.gz", ".tgz")):
        return TAR_GZ
    raise ConfigError(f"{path}: name the archive *.tar.gz, *.tgz or *.zip so the container format is clear")


def write_archive(path: str | Path, files: Mapping[str, Content], container: str | None = None) -> Path:
    """Write ``{archive name: bytes or local file}`` as a zip or tar.gz, files at the root.

    The file is written next to its final name and renamed into place, so a failed export never
    leaves a truncated archive behind.
    """
    path = Path(path)
    container = container or container_for(path)

    def fill(raw: BinaryIO) -> None:
        if container == ZIP:
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, content in files.items():
                    if isinstance(content, Path):
                        archive.write(content, name)
                    else:
                        archive.writestr(name, content)
            return
        now = time.time()
        # The gzip header records a file name (gzip drops a ".gz"): name the final archive, not
        # the temporary file (``tarfile.open(partial, "w:gz")`` would store ``*.tar.gz.partial``).
        with gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw, mtime=int(now)) as gz, \
                tarfile.open(fileobj=gz, mode="w") as archive:
            for name, content in files.items():
                data = content.read_bytes() if isinstance(content, Path) else content
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), now, 0o644
                archive.addfile(info, io.BytesIO(data))

    try:
        atomic_write(path, fill)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the archive ({exc.strerror or exc})") from None
    return path


def read_archive(path: str | Path) -> dict[str, bytes]:
    """Every regular file of a zip or tar.gz, by name; a single top-level folder is looked through."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: archive not found")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
        else:
            with tarfile.open(path, "r:*") as archive:
                files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable .tar.gz or .zip ({exc})") from None
    files = {name[2:] if name.startswith("./") else name: data for name, data in files.items()}
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files):
        top = tops.pop() + "/"
        files = {name[len(top):]: data for name, data in files.items()}
    return files


def car_archive_files(frozen_model: bytes, model_metadata: bytes) -> dict[str, bytes]:
    """The car tar.gz contents (create-car-zip.sh layout)."""
    return {CAR_MODEL_PB: frozen_model, MODEL_METADATA: model_metadata}


@dataclass
class CarModel:
    """A model the car (or our evaluator) can load: the frozen graph and its metadata."""

    frozen_model: bytes
    metadata: ModelMetadata
    source: str


def read_car_model(path: str | Path) -> CarModel:
    """Load a car ``model.tar.gz`` or a folder holding ``agent/model.pb`` (or ``model.pb``) and ``model_metadata.json``.

    Raises:
        ConfigError: naming the archive and the missing or bad part.
    """
    path = Path(path)
    if path.is_dir():
        files = {}
        for name in (CAR_MODEL_PB, "model.pb", MODEL_METADATA):
            if (path / name).is_file():
                files[name] = (path / name).read_bytes()
    else:
        files = read_archive(path)
    pb = files.get(CAR_MODEL_PB, files.get("model.pb"))
    if pb is None:
        raise ConfigError(f"{path}: missing {CAR_MODEL_PB}; a car model holds {CAR_MODEL_PB} and {MODEL_METADATA}")
    if MODEL_METADATA not in files:
        raise ConfigError(f"{path}: missing {MODEL_METADATA}; a car model holds {CAR_MODEL_PB} and {MODEL_METADATA}")
    metadata = _parse_metadata(files[MODEL_METADATA], f"{path}:{MODEL_METADATA}")
    return CarModel(frozen_model=pb, metadata=metadata, source=str(path))


def _parse_metadata(data: bytes, source: str) -> ModelMetadata:
    import json

    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: invalid JSON ({exc})") from None
    return parse_model_metadata(raw, source=source)


def check_frozen_model_matches(model, metadata: ModelMetadata, source: str) -> None:
    """A frozen graph (``FrozenModel``) must read the metadata's sensors and emit its actions.

    Raises:
        ConfigError: one line naming the mismatch (action count, sensors or algorithm).
    """
    if model.algorithm != metadata.training_algorithm:
        raise ConfigError(
            f"{source}: the frozen graph is a {model.algorithm} policy but model_metadata.json says "
            f"training_algorithm {metadata.training_algorithm!r}"
        )
    if set(model.sensors) != set(metadata.sensors):
        raise ConfigError(
            f"{source}: the frozen graph reads {', '.join(sorted(model.sensors))} but model_metadata.json "
            f"lists sensor {', '.join(sorted(metadata.sensors))}"
        )
    width = model.output_width
    if width is not None and width != metadata.num_actions:
        what = "actions" if metadata.is_discrete else "action dimensions"
        raise ConfigError(
            f"{source}: the frozen graph outputs {width} values but model_metadata.json defines "
            f"{metadata.num_actions} {what}; they must match"
        )


def droa_archive_files(
    *,
    model_metadata: bytes,
    reward_function: bytes,
    hyperparameters: bytes,
    training_params: bytes,
    checkpoint_name: str,
    checkpoint_files: Mapping[str, Content],
    frozen_model: bytes | None = None,
    frozen_model_name: str | None = None,
    metrics: Mapping[str, Content] | None = None,
) -> dict[str, Content]:
    """The DRoA virtual-model layout (see the module docstring for sources)."""
    files: dict[str, Content] = {
        MODEL_METADATA: model_metadata,
        REWARD_FUNCTION: reward_function,
        TRAINING_PARAMS: training_params,
        HYPERPARAMETERS: hyperparameters,
        IP_HYPERPARAMETERS: hyperparameters,
        f"{DROA_MODEL_DIR}/{MODEL_METADATA}": model_metadata,
    }
    for name, content in checkpoint_files.items():
        files[f"{DROA_MODEL_DIR}/{name}"] = content
    if frozen_model is not None:
        files[f"{DROA_MODEL_DIR}/{frozen_model_name}"] = frozen_model
    files[DROA_POINTER] = checkpoint_name.encode()
    files[f"{DROA_MODEL_DIR}/{RECORDS_FILE_NAME}"] = checkpoint_records_json(best=checkpoint_name, last=checkpoint_name)
    for name, content in (metrics or {}).items():
        files[f"{DROA_METRICS_DIR}/{Path(name).name}"] = content
    size = sum(c.stat().st_size if isinstance(c, Path) else len(c) for c in files.values())
    if size >= DROA_SIZE_LIMIT:
        raise ConfigError(
            f"the DRoA model would hold {size / 1e9:.2f} GB; DRoA imports only models under 1 GB "
            "(leave out --metrics or pick a smaller network)"
        )
    return files


def check_droa_archive(path: str | Path) -> dict[str, bytes]:
    """Read a DRoA virtual-model archive and check its required parts; returns its files.

    Raises:
        ConfigError: naming the first missing part, or a ``.coach_checkpoint`` whose files are absent.
    """
    files = read_archive(path)
    for name in DROA_REQUIRED:
        if name not in files:
            raise ConfigError(f"{path}: missing {name}; DRoA's import needs {', '.join(DROA_REQUIRED)} and the ckpt files")
    checkpoint = files[DROA_POINTER].decode("utf-8", "replace").strip()
    for suffix in (".index", ".meta", ".data-00000-of-00001"):
        if f"{DROA_MODEL_DIR}/{checkpoint}{suffix}" not in files:
            raise ConfigError(f"{path}: model/.coach_checkpoint names {checkpoint} but model/{checkpoint}{suffix} is missing")
    _parse_metadata(files[MODEL_METADATA], f"{path}:{MODEL_METADATA}")
    return files
