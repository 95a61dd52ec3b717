"""Every object key of the bucket layout, and the only place in the package where ``/`` is joined.

The simulation image builds its keys with ``os.path.normpath(os.path.join(prefix, postfix))``
(docs/protocol.md §4.5). On Linux that collapses ``//`` and ``/./``, drops a trailing ``/`` and
resolves ``..``; on Windows it produced backslashes, which S3 and MinIO take as different keys
(the deepracer-windows bug). Keys here are joined with ``posixpath`` whatever the host OS, so
they match what the image computes on Linux, byte for byte.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterable

from markov.checkpoint_names import COACH_CHECKPOINT_FILE, frozen_model_filename
from markov.checkpoint_names import TF_STATE_FILE as TF_CHECKPOINT_STATE_FILE
from markov.checkpoint_records import FILE_NAME as CHECKPOINT_RECORDS_FILE
from markov.errors import ConfigError

S3_SCHEME = "s3://"

# Postfixes under <prefix>/ (docs/protocol.md §4.1).
MODEL_DIR = "model"
IP_DIR = "ip"
MODEL_METADATA = "model/model_metadata.json"
PRESET = "presets/preset.py"
HYPERPARAMETERS = "ip/hyperparameters.json"
IP_CONFIG = "ip/ip.json"
IP_DONE = "ip/done"
LOCK = "model/.lock"
READY = "model/.ready"
FINISHED = "model/.finished"
COACH_CHECKPOINT = f"{MODEL_DIR}/{COACH_CHECKPOINT_FILE}"
DEEPRACER_CHECKPOINTS = f"{MODEL_DIR}/{CHECKPOINT_RECORDS_FILE}"
TF_CHECKPOINT_STATE = f"{MODEL_DIR}/{TF_CHECKPOINT_STATE_FILE}"  # the 2020 "version file", read for v<2 pretrained models (§4.4)
# Written by the rollout side, where DRfC points the image (metrics) or deepracer-utils looks (simtraces).
TRAINING_METRICS = "metrics/TrainingMetrics{suffix}.json"        # suffix "" for worker 0, "_<i>" for worker i
EVALUATION_METRICS = "metrics/EvaluationMetrics-{stamp}.json"    # stamp: YYYYmmddHHMMSS
EVALUATION_SIMTRACE = "evaluation-{stamp}/evaluation-simtrace/0-iteration.csv"
TRACK_RECORD = "model/training_track.json"  # which track and world the run drove (ours; the image has none)
ROUTE = "tracks/{name}.npy"                 # a copy of that route, loadable by deepracer-utils' TrackIO
RUN_REWARD_FUNCTION = "reward_function.py"  # the run's reward function; DRfC copies it here "for the console"

# Bucket-level keys DRfC reads the user's files from (DRfC `DR_LOCAL_S3_CUSTOM_FILES_PREFIX`, §1.1, §1.5).
CUSTOM_FILES_PREFIX = "custom_files"
CUSTOM_MODEL_METADATA = "custom_files/model_metadata.json"
CUSTOM_REWARD_FUNCTION = "custom_files/reward_function.py"
CUSTOM_HYPERPARAMETERS = "custom_files/hyperparameters.json"

# Local file names that mirror the S3 names inside a checkpoint directory (COACH_CHECKPOINT_FILE and
# TF_CHECKPOINT_STATE_FILE come from markov.checkpoint_names).
READY_FILE = ".ready"
FINISHED_FILE = ".finished"


def join(*parts: str) -> str:
    """Join key parts with ``/`` and normalise them the way the image's normpath does on Linux.

    This is ``posixpath.normpath(posixpath.join(*parts))``, the image's expression on Linux.
    Empty parts are skipped, so an empty prefix gives the bare postfix. A result that normalises
    to nothing or climbs above the bucket root is an error rather than the ``.`` or ``..`` that
    normpath would return, because neither is a usable key.
    """
    present = [part for part in parts if part]
    if not present:
        raise ConfigError("empty S3 key: set --s3_prefix or the key to a non-empty value")
    text = posixpath.join(*present)
    key = posixpath.normpath(text)
    if key in (".", "/", "..") or key.startswith("../"):
        raise ConfigError(f"S3 key {text!r} points outside the bucket; remove the '..' parts")
    return key


def join_parts(parts: Iterable[str]) -> str:
    """Key for a sequence of path components (a local path relative to a store root)."""
    return join(*parts)


def basename(key: str) -> str:
    """Last component of a key (keys are always ``/``-separated, whatever the OS)."""
    return key.rsplit("/", 1)[-1]


def split_s3_uri(value: str, default_bucket: str | None = None) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); a bare key belongs to ``default_bucket``.

    The image accepts ``--model_metadata_s3_key`` with or without ``s3://<bucket>/`` (§1.2), so
    every place that takes a key takes a URI too.

    Raises:
        ConfigError: for a URI without a key, or a bare key when no default bucket is known.
    """
    text = value.strip()
    if text.lower().startswith(S3_SCHEME):
        rest = text[len(S3_SCHEME):]
        bucket, _, key = rest.partition("/")
        if not bucket or not key.strip("/"):
            raise ConfigError(f"S3 URI {value!r} must look like s3://bucket/key")
        # In a URI the '/' after the bucket is a separator, so "s3://b//k" means key "k".
        return bucket, join(key.lstrip("/"))
    if not default_bucket:
        raise ConfigError(f"S3 key {value!r} has no bucket; write it as s3://bucket/{text.lstrip('/')}")
    return default_bucket, join(text)


def s3_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key``, for messages and printed commands."""
    return f"{S3_SCHEME}{bucket}/{key}"


@dataclass(frozen=True)
class ModelKeys:
    """The keys of one model under ``<prefix>/`` (docs/protocol.md §4.1).

    The prefix is kept as given (it is also the Redis channel base, §5.2, and must stay the same
    string on both sides); only the keys are normalised.
    """

    prefix: str

    def key(self, postfix: str) -> str:
        """``<prefix>/<postfix>``, normalised."""
        return join(self.prefix, postfix)

    @property
    def model_dir(self) -> str:
        """Key prefix of the ``model/`` folder, with its trailing ``/`` (for LIST)."""
        return self.key(MODEL_DIR) + "/"

    @property
    def model_metadata(self) -> str:
        return self.key(MODEL_METADATA)

    @property
    def preset(self) -> str:
        return self.key(PRESET)

    @property
    def hyperparameters(self) -> str:
        return self.key(HYPERPARAMETERS)

    @property
    def ip_config(self) -> str:
        return self.key(IP_CONFIG)

    @property
    def ip_done(self) -> str:
        return self.key(IP_DONE)

    @property
    def lock(self) -> str:
        return self.key(LOCK)

    @property
    def ready(self) -> str:
        return self.key(READY)

    @property
    def finished(self) -> str:
        return self.key(FINISHED)

    @property
    def coach_checkpoint(self) -> str:
        return self.key(COACH_CHECKPOINT)

    @property
    def deepracer_checkpoints(self) -> str:
        return self.key(DEEPRACER_CHECKPOINTS)

    @property
    def tf_checkpoint_state(self) -> str:
        return self.key(TF_CHECKPOINT_STATE)

    def model_file(self, filename: str) -> str:
        """``<prefix>/model/<filename>``: a checkpoint file such as ``3_Step-600.ckpt.index``."""
        if "/" in filename or "\\" in filename:
            raise ConfigError(f"checkpoint file name {filename!r} must be a bare file name")
        return join(self.prefix, MODEL_DIR, filename)

    def frozen_model(self, checkpoint_number: int) -> str:
        """``<prefix>/model/model_<n>.pb``, the frozen graph of checkpoint ``n`` (§6.2)."""
        return self.model_file(frozen_model_filename(checkpoint_number))

    def training_metrics(self, worker_index: int = 0) -> str:
        """``<prefix>/metrics/TrainingMetrics.json``, ``TrainingMetrics_<i>.json`` for worker i > 0."""
        return self.key(TRAINING_METRICS.format(suffix=f"_{worker_index}" if worker_index else ""))

    def evaluation_metrics(self, stamp: str) -> str:
        return self.key(EVALUATION_METRICS.format(stamp=stamp))

    def evaluation_simtrace(self, stamp: str) -> str:
        return self.key(EVALUATION_SIMTRACE.format(stamp=stamp))

    @property
    def track_record(self) -> str:
        return self.key(TRACK_RECORD)

    def route(self, name: str) -> str:
        if "/" in name or "\\" in name:
            raise ConfigError(f"track name {name!r} must be a bare name")
        return self.key(ROUTE.format(name=name))

    def sample(self, index: int) -> str:
        """``<prefix>/samples/sample_<k>.pkl`` (sample collector, §4.3)."""
        return join(self.prefix, "samples", f"sample_{index}.pkl")


