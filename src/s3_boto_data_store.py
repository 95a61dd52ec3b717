"""The Coach ``DataStore`` the trainer and rollout use: checkpoints and sync files in S3, MinIO or a folder.

A thin adapter: Coach's graph manager calls ``save_to_store``/``load_from_store``; the protocol
itself (write order, lock, retention, best protection) lives in ``markov.store.publisher``,
``markov.store.download`` and ``markov.store.lifecycle``. Set an instance as
``graph_manager.data_store`` and Coach uses it instead of building one of its own.
"""
from __future__ import annotations

from pathlib import Path

from rl_coach.data_stores.data_store import DataStore, DataStoreParameters

from markov.store import lifecycle
from markov.store.backend import ObjectStore
from markov.store.download import (
    PretrainedCheckpoint, download_pretrained, get_coach_checkpoint_number, load_from_store, wait_for_checkpoint,
)
from markov.store.factory import open_store
from markov.store.keys import ModelKeys
from markov.store.publisher import CheckpointPublisher, FrozenModel


class S3BotoDataStoreParameters(DataStoreParameters):
    """Where the model lives and where Coach keeps its local files.

    Args:
        bucket: ``--s3_bucket`` (ignored with ``local_store_dir``).
        s3_prefix: ``--s3_prefix``.
        checkpoint_dir: Coach's checkpoint folder for this agent (``./checkpoint_sagemaker/agent``).
        aws_region, s3_endpoint_url, kms_key_arn: S3 connection; the endpoint defaults to ``S3_ENDPOINT_URL``.
        local_store_dir: use this folder as the bucket instead of S3/MinIO.
        frozen_dir: local ``model_<n>.pb`` copies (``./frozen_models/agent``); None keeps none.
        model_dir: ``SM_MODEL_DIR``, which receives ``agent/model.pb``; None skips it.
    """

    def __init__(self, *, bucket: str | None, s3_prefix: str, checkpoint_dir: str | Path,
                 aws_region: str | None = None, s3_endpoint_url: str | None = None, kms_key_arn: str | None = None,
                 local_store_dir: str | Path | None = None, frozen_dir: str | Path | None = None,
                 model_dir: str | Path | None = None):
        super().__init__("s3", "local", {})
        self.bucket = bucket
        self.s3_prefix = s3_prefix
        self.checkpoint_dir = Path(checkpoint_dir)
        self.aws_region = aws_region
        self.s3_endpoint_url = s3_endpoint_url
        self.kms_key_arn = kms_key_arn
        self.local_store_dir = local_store_dir
        self.frozen_dir = frozen_dir
        self.model_dir = model_dir


class S3BotoDataStore(DataStore):
    """Coach data store over an ``ObjectStore``; ``store`` overrides the one the parameters describe."""

    def __init__(self, params: S3BotoDataStoreParameters, store: ObjectStore | None = None,
                 frozen_model: FrozenModel = None):
        self.params = params
        self.store = store if store is not None else open_store(
            params.bucket, local_dir=params.local_store_dir, endpoint_url=params.s3_endpoint_url,
            region=params.aws_region, kms_key_arn=params.kms_key_arn)
        self.keys = ModelKeys(params.s3_prefix)
        self.publisher = CheckpointPublisher(self.store, self.keys, params.checkpoint_dir, frozen_model=frozen_model,
                                             frozen_dir=params.frozen_dir, model_dir=params.model_dir)

    def set_frozen_model(self, frozen_model: FrozenModel) -> None:
        """Frozen graph source for later publishes: bytes, or a function of the checkpoint name."""
        self.publisher.frozen_model = frozen_model

    def deploy(self) -> bool:
        return True

    def undeploy(self) -> bool:
        return True

    def get_info(self) -> str:
        return self.store.uri(self.keys.model_dir)

    # -- trainer side -----------------------------------------------------------------------

    def save_to_store(self) -> str:
        """Publish the checkpoint named by the local ``.coach_checkpoint``; returns its name."""
        return self.publisher.publish()

    def save_policy(self, graph_manager=None) -> str:
        return self.save_to_store()

    def signal_ready(self) -> None:
        lifecycle.signal_ready(self.store, self.keys, self.params.checkpoint_dir)

    def flush_finished(self) -> None:
        lifecycle.signal_finished(self.store, self.keys)

    def load_pretrained(self, bucket: str, prefix: str, local_dir: str | Path, checkpoint: str = "best",
                        metadata_version: float = 2.0) -> PretrainedCheckpoint:
        """Download a pretrained model's best or last checkpoint (same endpoint and credentials)."""
        if self.params.local_store_dir is not None or bucket == self.params.bucket:
            store = self.store
        else:
            store = open_store(bucket, endpoint_url=self.params.s3_endpoint_url, region=self.params.aws_region)
        return download_pretrained(store, ModelKeys(prefix), local_dir, checkpoint=checkpoint,
                                   metadata_version=metadata_version)

    # -- rollout side -----------------------------------------------------------------------

    def load_from_store(self, expected_checkpoint_number: int = -1) -> str | None:
        """Download the current checkpoint into the checkpoint dir; None while none (or no newer one) is ready."""
        expected = expected_checkpoint_number if expected_checkpoint_number >= 0 else None
        return load_from_store(self.store, self.keys, self.params.checkpoint_dir, expected_number=expected)

    def wait_for_checkpoints(self, timeout_s: float = 1200.0) -> str:
        return wait_for_checkpoint(self.store, self.keys, self.params.checkpoint_dir, timeout_s=timeout_s)

    def wait_for_trainer_ready(self, timeout_s: float = 300.0) -> None:
        lifecycle.wait_for_trainer_ready(self.store, self.keys, timeout_s=timeout_s)

    def get_coach_checkpoint_number(self) -> int:
        return get_coach_checkpoint_number(self.store, self.keys)

    def end_of_policies(self) -> bool:
        return self.store.exists(self.keys.finished)
