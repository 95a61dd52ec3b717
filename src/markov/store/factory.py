"""Choose the store for a run: a bucket on S3/MinIO, or a local directory with the same layout."""
from __future__ import annotations

from pathlib import Path

from markov.errors import ConfigError
from markov.store.backend import ObjectStore
from markov.store.local import LocalStore
from markov.store.s3 import S3Store, endpoint_from_env


def open_store(bucket: str | None = None, *, local_dir: str | Path | None = None, endpoint_url: str | None = None,
               region: str | None = None, kms_key_arn: str | None = None) -> ObjectStore:
    """A ``LocalStore`` rooted at ``local_dir`` when it is given, else an ``S3Store`` for ``bucket``.

    ``local_dir`` stands for the bucket itself: ``DIR/<prefix>/model/...``, so that
    ``aws s3 sync DIR s3://bucket`` or ``mc mirror DIR minio/bucket`` publishes it later.
    ``endpoint_url`` defaults to ``S3_ENDPOINT_URL``.
    """
    if local_dir is not None:
        return LocalStore(local_dir)
    if not bucket:
        raise ConfigError("no store: give --s3_bucket (S3/MinIO) or a local store directory")
    return S3Store(bucket, endpoint_url=endpoint_url or endpoint_from_env(), region=region, kms_key_arn=kms_key_arn)
