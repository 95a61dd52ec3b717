"""The redis-py client every Redis link of ours uses: our settings, TLS and ACL users, RESP2, no hidden retries."""
from __future__ import annotations

import inspect

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from markov.config import RedisConfig

# A message once begun must finish within this, and a PUBLISH to a server that vanished without
# closing the connection must not hang forever; idle pub/sub waits poll with their own timeout.
SOCKET_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0

# redis-py >= 5 may speak RESP3, whose pub/sub push handler formats every message into a debug
# string, logging on or not: 30 ms per 3 MB episode (docs/performance.md). RESP2 delivers the same
# messages without it.
_RESP2 = {"protocol": 2} if "protocol" in inspect.signature(redis.Redis.__init__).parameters else {}


def describe(config: RedisConfig) -> str:
    """``host:port``, with the user and TLS when set, for messages (never the password)."""
    user = f"{config.username}@" if config.username else ""
    return f"{user}{config.host}:{config.port}" + (" (TLS)" if config.tls else "")


def make_client(config: RedisConfig) -> redis.Redis:
    """A client that reports a broken link at once instead of retrying behind our back."""
    tls: dict[str, object] = {}
    if config.tls:
        tls = {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": config.tls_ca_file}
    return redis.Redis(
        host=config.host, port=config.port, db=config.db, username=config.username, password=config.password,
        socket_connect_timeout=CONNECT_TIMEOUT, socket_keepalive=True, socket_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0), **tls, **_RESP2,  # type: ignore[arg-type]
    )
