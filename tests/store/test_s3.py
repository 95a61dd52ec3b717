"""S3 backend specifics: upload arguments, retries and one-line errors, with a real boto3 client on moto.

Faults are injected with botocore's own ``before-call`` event, which answers a request with a
given HTTP status instead of sending it; everything else is the real client and moto.
"""
from __future__ import annotations

import socket

import pytest
from botocore.exceptions import EndpointConnectionError

from markov.errors import StorageError
from markov.store.backend import BucketNotFoundError, EndpointUnreachableError, StoreUnavailableError
from markov.store.s3 import UPLOAD_ACL, S3Store, display_endpoint, endpoint_from_env

BUCKET = "bucket"  # created by the s3_client fixture
REGION = "us-east-1"


class _Status:
    def __init__(self, code):
        self.status_code = code


def fail_requests(client, operation, responses):
    """Answer the next requests of ``operation`` with ``responses`` (code, http status) or exceptions."""
    queue = list(responses)

    def handler(**_kwargs):
        if not queue:
            return None
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        code, status = item
        return _Status(status), {"Error": {"Code": code, "Message": f"injected {code}"},
                                 "ResponseMetadata": {"HTTPStatusCode": status}}

    client.meta.events.register(f"before-call.s3.{operation}", handler)
    return queue


def record_params(client, operation):
    seen = []
    client.meta.events.register(f"before-call.s3.{operation}", lambda params, **_: seen.append(params) and None)
    return seen


def test_uploads_carry_the_acl(s3_store):
    seen = record_params(s3_store.client, "PutObject")
    s3_store.put_bytes("p/model/.lock", b"")
    assert seen[0]["headers"]["x-amz-acl"] == UPLOAD_ACL


def test_uploads_are_encrypted_with_the_kms_key_when_configured(s3_client, tmp_path):
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/abc"
    store = S3Store(BUCKET, region=REGION, kms_key_arn=key_arn)
    store.put_bytes("p/ip/done", b"done")
    (tmp_path / "ckpt").write_bytes(b"x" * 1024)
    store.put_file("p/model/0_Step-0.ckpt.index", tmp_path / "ckpt")
    for key in ("p/ip/done", "p/model/0_Step-0.ckpt.index"):  # as the bucket says, not as the request was built
        head = s3_client.head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn), key
    plain = S3Store(BUCKET, region=REGION)
    plain.put_bytes("p/ip/plain", b"x")
    assert s3_client.head_object(Bucket=BUCKET, Key="p/ip/plain").get("ServerSideEncryption") != "aws:kms"


def test_store_that_refuses_acls_gets_uploads_without_them(s3_store):
    fail_requests(s3_store.client, "PutObject", [("AccessControlListNotSupported", 400)])
    seen = record_params(s3_store.client, "PutObject")
    s3_store.put_bytes("p/a", b"1")
    s3_store.put_bytes("p/b", b"2")
    assert s3_store.get_bytes("p/a") == b"1"
    assert all("x-amz-acl" not in params["headers"] for params in seen[1:])


def fail_sends(client, operation, responses):
    """Answer the next sends of ``operation`` with ``responses``: HTTP statuses (with an error code) or exceptions.

    ``before-send`` sits inside botocore's retry loop, so its standard mode sees these as it
    would see a server's answers. Returns the list of (operation, attempt) seen.
    """
    from botocore.awsrequest import AWSResponse

    queue = list(responses)
    seen = []

    class _Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, **_kwargs):
            yield self.body

    def handler(request, **_kwargs):
        seen.append(request.url)
        if not queue:
            return None
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        code, status = item
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        return AWSResponse(request.url, status, {}, _Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", handler)
    return seen


@pytest.mark.parametrize("fault", [("SlowDown", 503), ("InternalError", 500), ("Throttling", 400)])
def test_throttling_and_5xx_are_retried_by_botocore(s3_client, fault):
    store = S3Store(BUCKET, region=REGION, attempts=3)
    sends = fail_sends(store.client, "PutObject", [fault, fault])
    store.put_bytes("p/x", b"payload")
    assert store.get_bytes("p/x") == b"payload"
    assert len(sends) == 3  # two refused, the third stored


def test_persistent_5xx_is_a_store_unavailable_error(s3_client):
    store = S3Store(BUCKET, region=REGION, attempts=2)
    sends = fail_sends(store.client, "PutObject", [("ServiceUnavailable", 503)] * 2)
    with pytest.raises(StoreUnavailableError) as info:
        store.put_bytes("p/x", b"payload")
    assert len(sends) == 2
    message = str(info.value)
    assert "'p/x'" in message and "503" in message or "ServiceUnavailable" in message
    assert "\n" not in message


def test_connection_errors_are_retried_then_reported(s3_client):
    store = S3Store(BUCKET, region=REGION, attempts=3)
    sends = fail_sends(store.client, "GetObject", [EndpointConnectionError(endpoint_url="http://x")] * 3)
    with pytest.raises(EndpointUnreachableError) as info:
        store.get_bytes("p/model/.coach_checkpoint")
    assert len(sends) == 3
    message = str(info.value)
    assert "cannot reach the S3 endpoint" in message and "'p/model/.coach_checkpoint'" in message
    assert "\n" not in message


def test_probe_tries_once(s3_client):
    store = S3Store(BUCKET, region=REGION, attempts=5)
    store.probe()
    sends = fail_sends(store._probe_client, "HeadBucket", [("ServiceUnavailable", 503)])
    with pytest.raises(StoreUnavailableError):
        store.probe()
    assert len(sends) == 1


def test_client_errors_are_not_retried(s3_store):
    sends = fail_sends(s3_store.client, "PutObject", [("AccessDenied", 403)])
    with pytest.raises(StorageError, match=r"access denied to bucket 'bucket', key 'p/x'") as info:
        s3_store.put_bytes("p/x", b"")
    assert len(sends) == 1 and not isinstance(info.value, StoreUnavailableError)


def test_bad_credentials_message_names_bucket_key_endpoint_and_no_secret(s3_client, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    store = S3Store(BUCKET, endpoint_url="http://minio:s3cr3t-value@localhost:9000", region=REGION)
    fail_requests(store.client, "GetObject", [("InvalidAccessKeyId", 403)])
    with pytest.raises(StorageError) as info:
        store.get_bytes("p/ip/ip.json")
    message = str(info.value)
    assert "refused the credentials" in message
    assert "'bucket'" in message and "'p/ip/ip.json'" in message and "http://localhost:9000" in message
    assert "s3cr3t" not in message


def test_missing_bucket_is_reported_as_such(s3_client):
    store = S3Store("no-such-bucket", region=REGION)
    with pytest.raises(BucketNotFoundError, match="S3 bucket 'no-such-bucket' does not exist"):
        store.check()
    with pytest.raises(BucketNotFoundError, match="'no-such-bucket', key 'p/ip/done'"):
        store.put_bytes("p/ip/done", b"done")
    assert store.ensure_bucket() is True
    store.put_bytes("p/ip/done", b"done")
    assert store.ensure_bucket() is False


def test_ensure_bucket_outside_us_east_1(s3_client):
    store = S3Store("eu-bucket", region="eu-west-1")
    assert store.ensure_bucket() is True
    assert store.client.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"


def test_unreachable_endpoint_is_one_line(aws_env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3Store(BUCKET, endpoint_url=f"http://127.0.0.1:{port}", region=REGION, attempts=2)
    with pytest.raises(StorageError) as info:
        store.exists("p/model/.lock")
    message = str(info.value)
    assert f"http://127.0.0.1:{port}" in message and "'bucket'" in message and "'p/model/.lock'" in message
    assert "S3_ENDPOINT_URL" in message and "\n" not in message


def test_endpoint_helpers(monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", "  ")
    assert endpoint_from_env() is None
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://localhost:9000")
    assert endpoint_from_env() == "http://localhost:9000"
    assert S3Store(BUCKET, region=REGION).endpoint_url == "http://localhost:9000"
    assert S3Store(BUCKET, endpoint_url="http://minio:9000", region=REGION).endpoint_url == "http://minio:9000"
    assert display_endpoint(None, "eu-west-1") == "AWS S3 (eu-west-1)"
    assert display_endpoint("https://u:p@minio.lan:9000/x?y=1") == "https://minio.lan:9000/x"


def test_bucket_name_must_be_bare():
    with pytest.raises(StorageError, match="bare bucket name"):
        S3Store("s3://bucket/prefix")
