"""Fixtures for the store tests: a real boto3 client against moto, and local stores in tmp_path."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from markov.store.local import LocalStore
from markov.store.s3 import S3Store

BUCKET = "bucket"
REGION = "us-east-1"


@pytest.fixture
def s3_client(aws_env):
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def s3_store(s3_client):
    return S3Store(BUCKET, region=REGION)


@pytest.fixture
def local_store(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    store.ensure_bucket()
    return store


@pytest.fixture(params=["s3", "local"])
def store(request):
    """Each backend in turn: the checkpoint protocol must behave the same on both."""
    return request.getfixturevalue(f"{request.param}_store")
