"""S3 client for the entry points: bucket, prefix, endpoint and region in; the start-up objects out.

A thin adapter. Keys are built in ``markov.store.keys``, requests, retries and errors live in
``markov.store.s3`` and the start-up order in ``markov.store.lifecycle``. Every method that takes a
key also takes an ``s3://bucket/key`` URI, which may name another bucket on the same endpoint.
"""
from __future__ import annotations

from pathlib import Path

from markov.store import lifecycle
from markov.store.backend import ObjectStore
from markov.store.keys import ModelKeys, split_s3_uri
from markov.store.s3 import S3Store, endpoint_from_env


class SageS3Client:
    """The model's bucket and prefix on S3 or MinIO.

    Args:
        bucket: ``--s3_bucket``.
        s3_prefix: ``--s3_prefix``.
        aws_region: ``--aws_region``; None lets boto3 decide.
        s3_endpoint_url: ``--s3_endpoint_url``; defaults to ``S3_ENDPOINT_URL`` (MinIO), else AWS.
        kms_key_arn: encrypt uploads with this KMS key.
        store: use this store instead (a ``LocalStore`` for runs without a bucket, or tests).
    """

    def __init__(self, bucket: str, s3_prefix: str, aws_region: str | None = None,
                 s3_endpoint_url: str | None = None, kms_key_arn: str | None = None,
                 store: ObjectStore | None = None):
        self.bucket = bucket
        self.endpoint_url = s3_endpoint_url or endpoint_from_env()
        self.region = aws_region
        self.kms_key_arn = kms_key_arn
        self.store = store if store is not None else S3Store(
            bucket, endpoint_url=self.endpoint_url, region=aws_region, kms_key_arn=kms_key_arn)
        self.keys = ModelKeys(s3_prefix)

    def store_for(self, key_or_uri: str) -> tuple[ObjectStore, str]:
        """The store and key a key or ``s3://`` URI refers to."""
        bucket, key = split_s3_uri(key_or_uri, default_bucket=self.bucket)
        if bucket == self.bucket:
            return self.store, key
        return S3Store(bucket, endpoint_url=self.endpoint_url, region=self.region, kms_key_arn=self.kms_key_arn), key

    def download_file(self, key_or_uri: str, local_path: str | Path) -> Path:
        store, key = self.store_for(key_or_uri)
        store.download_file(key, local_path)
        return Path(local_path)

    def upload_file(self, key_or_uri: str, local_path: str | Path) -> str:
        store, key = self.store_for(key_or_uri)
        store.put_file(key, local_path)
        return key

    def download_model_metadata(self, key_or_uri: str, local_path: str | Path) -> Path:
        """Fetch the user's model_metadata.json (``--model_metadata_s3_key``)."""
        store, key = self.store_for(key_or_uri)
        return lifecycle.download_model_metadata(store, key, local_path)

    def upload_model_metadata(self, local_path: str | Path) -> str:
        return lifecycle.publish_model_metadata(self.store, self.keys, local_path)

    def upload_hyperparameters(self, echo_json: str) -> str:
        return lifecycle.publish_hyperparameters(self.store, self.keys, echo_json)

    def write_ip_config(self, ip: str) -> None:
        lifecycle.publish_ip_config(self.store, self.keys, ip)

    def get_ip(self, timeout_s: float = 1200.0) -> str:
        """The trainer's Redis address, once ``ip/done`` exists (rollout side)."""
        return lifecycle.wait_for_ip(self.store, self.keys, timeout_s=timeout_s)

    def clear_stale_sync_files(self, keep_pointer: bool = False) -> list[str]:
        return lifecycle.clear_stale_sync_files(self.store, self.keys, keep_pointer=keep_pointer)
