"""S3 / MinIO object store over boto3: retries, upload arguments and one-line errors.

Endpoint, region and credentials come from the usual places: ``--s3_endpoint_url`` or
``S3_ENDPOINT_URL`` (MinIO), the region flag or ``AWS_REGION``, and boto3's credential chain
(env vars, profile, instance role). Errors name the bucket, the key and the endpoint, never a
credential.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import PartialCredentialsError, ReadTimeoutError

from markov.config import S3_ENDPOINT_ENV, s3_endpoint_url
from markov.errors import StorageError
from markov.store import keys as keylib
from markov.store.atomic import atomic_write
from markov.store.backend import BucketNotFoundError, EndpointUnreachableError, ObjectNotFoundError, StoreUnavailableError

log = logging.getLogger(__name__)

ENDPOINT_ENV = S3_ENDPOINT_ENV
KMS_ENV = "S3_KMS_CMK_ARN_ENV"
# Every upload carries this ACL, as the image's do (docs/protocol.md §4.1), so that objects written
# into another account's bucket stay readable by the bucket owner.
UPLOAD_ACL = "bucket-owner-full-control"

# What botocore's standard mode treats as throttling; after its last try they mean "come back later".
_THROTTLING_CODES = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "EC2ThrottledException", "XMinioServerNotInitialized",
}
_BAD_CREDENTIAL_CODES = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "InvalidClientTokenId", "UnrecognizedClientException",
}
_ACCESS_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
# S3-compatible stores that refuse canned ACLs instead of ignoring them.
_ACL_UNSUPPORTED_CODES = {"AccessControlListNotSupported", "NotImplemented"}


def endpoint_from_env() -> str | None:
    """``S3_ENDPOINT_URL`` if set and not empty (MinIO), else None (AWS)."""
    return s3_endpoint_url()


def display_endpoint(endpoint_url: str | None, region: str | None = None) -> str:
    """The endpoint for messages: any ``user:password@`` part and query string are removed."""
    if not endpoint_url:
        return f"AWS S3 ({region})" if region else "AWS S3"
    parts = urlsplit(endpoint_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class S3Store:
    """One bucket on S3 or MinIO.

    Args:
        bucket: the bucket name.
        endpoint_url: MinIO or other S3-compatible endpoint; None means ``S3_ENDPOINT_URL``, and AWS
            when that is unset too.
        region: AWS region; None lets boto3 decide (``AWS_REGION``, profile, then us-east-1).
        kms_key_arn: when set, uploads are encrypted with this KMS key (§4.1).
        attempts: tries per request on throttling, 5xx and dropped connections, made by botocore's
            standard retry mode (exponential backoff with jitter, at most 20 s between tries).
            A store that stays away longer is the caller's to wait for (docs/reliability.md).
        client: an existing boto3 S3 client (tests); built from the other arguments if None.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        kms_key_arn: str | None = None,
        attempts: int = 5,
        client: Any = None,
    ):
        if not bucket or "/" in bucket:
            raise StorageError(f"S3 bucket name {bucket!r} is not valid; give a bare bucket name (no s3://, no '/')")
        self.bucket = bucket
        self.endpoint_url = endpoint_url or endpoint_from_env()
        self.kms_key_arn = kms_key_arn or None
        self.attempts = max(1, attempts)
        self._send_acl = True
        self._injected = client is not None
        self.client = client if client is not None else _make_client(self.endpoint_url, region, self.attempts)
        self._probe_client = None
        self.region = self.client.meta.region_name
        self._endpoint_text = display_endpoint(self.endpoint_url, self.region)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket} at {self._endpoint_text}"

    def uri(self, key: str) -> str:
        return keylib.s3_uri(self.bucket, key)

    # -- requests ---------------------------------------------------------------------------

    def check(self) -> None:
        self._call("head_bucket", None, lambda: self.client.head_bucket(Bucket=self.bucket))

    def ensure_bucket(self) -> bool:
        try:
            self.check()
            return False
        except BucketNotFoundError:
            pass
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call("create_bucket", None, lambda: self.client.create_bucket(**kwargs))
        except StorageError as exc:
            if "BucketAlreadyOwnedByYou" in str(exc):
                return False
            raise
        log.debug("Created bucket %s", self.location)
        return True

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, lambda: data)

    def put_file(self, key: str, path: str | Path) -> None:
        source = Path(path)
        if not source.is_file():
            raise StorageError(f"cannot upload {source} to {self.uri(key)}: the file does not exist")
        handles = []

        def body():
            handle = source.open("rb")
            handles.append(handle)
            return handle

        try:
            self._put(key, body)
        finally:
            for handle in handles:
                handle.close()

    def _put(self, key: str, body: Callable[[], Any]) -> None:
        def request():
            extra = self._upload_args()
            try:
                return self.client.put_object(Bucket=self.bucket, Key=key, Body=body(), **extra)
            except ClientError as exc:
                if "ACL" in extra and _code(exc) in _ACL_UNSUPPORTED_CODES:
                    log.warning("%s refuses object ACLs (%s); uploading without them", self.location, _code(exc))
                    self._send_acl = False
                    return self.client.put_object(Bucket=self.bucket, Key=key, Body=body(), **self._upload_args())
                raise

        self._call("put_object", key, request)

    def _upload_args(self) -> dict[str, str]:
        extra = {"ACL": UPLOAD_ACL} if self._send_acl else {}
        if self.kms_key_arn:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_arn)
        return extra

    def get_bytes(self, key: str) -> bytes:
        def request():
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

        return self._call("get_object", key, request)

    def download_file(self, key: str, path: str | Path) -> None:
        target = Path(path)

        def request():
            stream = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            atomic_write(target, lambda out: _copy_stream(stream, out))

        try:
            self._call("get_object", key, request)
        except OSError as exc:
            raise StorageError(f"cannot write {target} while downloading {self.uri(key)}: {exc.strerror or exc}") from None

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", key, lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        except ObjectNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        def request():
            found = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(item["Key"] for item in page.get("Contents", ()))
            return sorted(found)

        return self._call("list_objects_v2", prefix, request)

    def delete(self, key: str) -> None:
        try:
            self._call("delete_object", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=key))
        except ObjectNotFoundError:
            pass  # some S3-compatible stores answer 404 where S3 answers 204

    # -- errors -----------------------------------------------------------------------------

    def probe(self) -> None:
        """``check`` with one try: the caller's own loop retries (start-up, bounded by --connect_timeout)."""
        if self._probe_client is None:
            self._probe_client = self.client if self._injected else _make_client(self.endpoint_url, self.region, 1)
        self._call("head_bucket", None, lambda: self._probe_client.head_bucket(Bucket=self.bucket))

    def _call(self, operation: str, key: str | None, request: Callable[[], Any]) -> Any:
        """One request; botocore's standard retry mode has already retried throttling, 5xx and dropped connections."""
        try:
            return request()
        except (ClientError, BotoCoreError) as exc:
            raise self._error(operation, key, exc) from None

    def _error(self, operation: str, key: str | None, exc: Exception) -> StorageError:
        where = f"bucket '{self.bucket}', key '{key}'" if key else f"bucket '{self.bucket}'"
        at = f"at {self._endpoint_text}"
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StorageError(f"no usable AWS credentials for {where} {at}; set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
        if _is_connection_error(exc):
            return EndpointUnreachableError(f"cannot reach the S3 endpoint {self._endpoint_text} ({where}): {_describe(exc)}; "
                                f"is MinIO running, and is {ENDPOINT_ENV} / --s3_endpoint_url right?")
        code = _code(exc)
        if code == "NoSuchBucket" or (code in _NOT_FOUND_CODES and key is None):
            return BucketNotFoundError(f"S3 bucket '{self.bucket}' does not exist {at} ({where}); create it "
                                       "(deepracer-trainer init does) or fix the bucket name")
        if code in _NOT_FOUND_CODES:
            return ObjectNotFoundError(f"{self.uri(key)} does not exist {at}")
        if code in _BAD_CREDENTIAL_CODES:
            return StorageError(f"S3 refused the credentials for {where} {at} ({code}); check AWS_ACCESS_KEY_ID, "
                                "AWS_SECRET_ACCESS_KEY and the region")
        if code in _ACCESS_DENIED_CODES:
            return StorageError(f"access denied to {where} {at} ({operation}); the credentials lack permission "
                                "for this bucket")
        if _is_throttling_or_5xx(exc):
            return StoreUnavailableError(f"S3 {operation} failed for {where} {at}: {_describe(exc)} "
                                         f"after {self.attempts} tries; the store is overloaded or restarting")
        return StorageError(f"S3 {operation} failed for {where} {at}: {_describe(exc)}")


_SESSION: boto3.session.Session | None = None
_SESSION_LOCK = threading.Lock()


def _shared_session() -> boto3.session.Session:
    """One boto3 session per process: it caches botocore's service data, so each store is cheap to make.

    Sessions are not thread-safe, so clients are made under ``_SESSION_LOCK``; the clients themselves are.
    """
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


def _make_client(endpoint_url: str | None, region: str | None, attempts: int):
    config = Config(
        connect_timeout=20,
        read_timeout=120,
        # botocore's standard mode retries throttling, 5xx and dropped connections with capped
        # exponential backoff; a longer outage is ridden out above the store (docs/reliability.md).
        retries={"total_max_attempts": attempts, "mode": "standard"},
        # MinIO and most S3-compatible servers need path-style addressing.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    try:
        with _SESSION_LOCK:
            return _shared_session().client("s3", endpoint_url=endpoint_url, region_name=region or None, config=config)
    except ValueError as exc:
        raise StorageError(f"invalid S3 endpoint {display_endpoint(endpoint_url)!r}: {exc}; fix "
                           f"{ENDPOINT_ENV} / --s3_endpoint_url") from None


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: Exception) -> int:
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def _is_connection_error(exc: Exception) -> bool:
    return isinstance(exc, (BotoConnectionError, ConnectionClosedError, ReadTimeoutError))


def _is_throttling_or_5xx(exc: Exception) -> bool:
    return _code(exc) in _THROTTLING_CODES or _status(exc) >= 500 or _status(exc) == 429


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message", "")).strip()
        code = error.get("Code", "") or _status(exc)
        return f"{code}: {message}" if message else str(code)
    return type(exc).__name__


def _copy_stream(stream, out, chunk: int = 1 << 20) -> None:
    for block in iter(lambda: stream.read(chunk), b""):
        out.write(block)
