"""A Redis pub/sub link that survives the server going away.

Redis pub/sub keeps no messages (docs/protocol.md §5.1): whatever is published while a side is
disconnected is lost. So a broken link is not an error to raise but a state to leave: wait for
the server, subscribe again, and tell the caller, who re-sends its request. Only a server that
stays away longer than ``connect_timeout`` becomes a :class:`ProtocolError`.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import Final, Literal, Union

import redis

from markov.config import RedisConfig
from markov.errors import ProtocolError
from markov.memory.client import describe, make_client
from markov.memory.subscriber import Subscriber

log = logging.getLogger(__name__)

# Errors that mean "the link is gone", as opposed to a refused command.
LINK_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class Reconnected(enum.Enum):
    """Returned by :meth:`PubSubLink.next_message` after the link was rebuilt: re-send what is pending."""

    RECONNECTED = "RECONNECTED"

    def __repr__(self) -> str:
        return "RECONNECTED"


RECONNECTED: Final = Reconnected.RECONNECTED  # an enum member, so that ``message is RECONNECTED`` narrows the type
Message = Union[bytes, Literal[Reconnected.RECONNECTED], None]


class PubSubLink:
    """One subscription plus a client for publishing, rebuilt after the server restarts.

    The subscription (:class:`Subscriber`) has its own connection; the client publishes, PINGs and
    reads CONFIG.

    ``next_message`` must be called from one thread only (the subscriber); ``publish`` may be
    called from any thread.
    """

    def __init__(self, config: RedisConfig, channel: str, *, connect_timeout: float = 60.0,
                 wait_log_interval: float = 30.0) -> None:
        self.config = config
        self.channel = channel
        self.connect_timeout = connect_timeout
        self.wait_log_interval = wait_log_interval
        self.client = make_client(config)
        self.reconnects = 0
        self._subscriber: Subscriber | None = None
        self._closed = threading.Event()

    def open(self) -> None:
        """Connect and subscribe, waiting for the server up to ``connect_timeout``."""
        self._wait_for_server(reason="connecting")
        self._subscribe()

    def _subscribe(self) -> None:
        self._drop_subscriber()
        subscriber = Subscriber(self.config, self.channel)
        subscriber.connect()
        self._subscriber = subscriber
        log.debug("Subscribed to Redis channel %r at %s", self.channel, describe(self.config))

    def _wait_for_server(self, reason: str) -> None:
        started = time.monotonic()
        last_log = started
        first_failure = True
        delay = 0.05
        while not self._closed.is_set():
            try:
                self.client.ping()
                return
            except (redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError) as exc:
                raise ProtocolError(f"Redis at {describe(self.config)} refused the login: {exc}; check --redis_password "
                                    "and --redis_username (REDIS_PASSWORD, REDIS_USERNAME)") from exc
            except redis.ResponseError as exc:
                if "NOAUTH" not in str(exc) and "AUTH" not in str(exc):
                    raise
                raise ProtocolError(f"Redis at {describe(self.config)} wants a password: {exc}; pass --redis_password "
                                    "(REDIS_PASSWORD)") from exc
            except LINK_ERRORS as exc:
                if self.config.tls and "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise ProtocolError(f"Redis at {describe(self.config)}: its TLS certificate is not trusted ({exc}); "
                                        "pass the CA that signed it with --redis_tls_ca_file (REDIS_TLS_CA_FILE)") from exc
                waited = time.monotonic() - started
                if waited >= self.connect_timeout:
                    raise ProtocolError(
                        f"Redis at {describe(self.config)} is unreachable after {waited:.0f} s ({exc}); start it "
                        "(see docs/redis.md) or fix --redis_host / --redis_port (REDIS_HOST / REDIS_PORT)") from exc
                if first_failure or time.monotonic() - last_log >= self.wait_log_interval:
                    # Say at once what we wait for, then every wait_log_interval: never a silent wait.
                    log.warning("Waiting for Redis at %s (%s) for %.0f s: %s; giving up in %.0f s",
                                describe(self.config), reason, waited, exc, self.connect_timeout - waited)
                    last_log = time.monotonic()
                    first_failure = False
                self._closed.wait(delay)
                delay = min(delay * 2, 1.0)
        raise ProtocolError(f"the Redis link to {describe(self.config)} was closed")

    def reconnect(self, error: BaseException) -> None:
        """Rebuild the subscription after ``error``; raises ProtocolError if the server stays away."""
        log.warning("Lost the Redis connection to %s (%s); reconnecting and subscribing again to %r",
                    describe(self.config), error, self.channel)
        self._drop_subscriber()
        self._wait_for_server(reason="reconnecting")
        self._subscribe()
        self.reconnects += 1
        log.info("Reconnected to Redis at %s", describe(self.config))

    def next_message(self, timeout: float) -> Message:
        """The next payload on the channel, None after ``timeout`` seconds, or RECONNECTED."""
        if self._subscriber is None:
            self._subscribe()
        assert self._subscriber is not None
        try:
            return self._subscriber.next_message(timeout)
        except LINK_ERRORS as exc:
            self.reconnect(exc)
            return RECONNECTED

    def publish(self, channel: str, payload: bytes) -> int | None:
        """Publish; the number of subscribers that got it, or None when the link is down (logged).

        A lost publish is not retried here: the protocol re-requests (docs/protocol.md §5.1).
        """
        try:
            return int(self.client.publish(channel, payload))
        except LINK_ERRORS as exc:
            log.warning("Could not publish to Redis channel %r at %s: %s", channel, describe(self.config), exc)
            return None

    def _drop_subscriber(self) -> None:
        if self._subscriber is not None:
            self._subscriber.close()
            self._subscriber = None

    def close(self) -> None:
        self._closed.set()
        self._drop_subscriber()
        self.client.close()


@dataclass(frozen=True)
class BufferLimit:
    """Redis's ``client-output-buffer-limit`` for pubsub clients, in bytes (0 = no limit)."""

    hard: int
    soft: int
    soft_seconds: int

    def too_low_for(self, payload_size: int) -> bool:
        """True when a reply of ``payload_size`` bytes, plus one re-sent copy in flight, risks a disconnect."""
        return bool(self.hard and 2 * payload_size > self.hard) or bool(self.soft and payload_size > self.soft)


def parse_buffer_limit(value: str) -> BufferLimit | None:
    """The pubsub entry of a ``client-output-buffer-limit`` value like ``normal 0 0 0 ... pubsub 33554432 8388608 60``."""
    fields = value.split()
    for i in range(0, len(fields) - 3, 4):
        if fields[i] == "pubsub":
            return BufferLimit(hard=_bytes(fields[i + 1]), soft=_bytes(fields[i + 2]), soft_seconds=int(fields[i + 3]))
    return None


def _bytes(text: str) -> int:
    # Redis's own units: "k" is 1000, "kb" is 1024 (redis.conf header).
    units = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
    lowered = text.lower()
    for suffix in ("kb", "mb", "gb", "k", "m", "g"):
        if lowered.endswith(suffix):
            return int(float(lowered[: -len(suffix)]) * units[suffix])
    return int(lowered)


def read_pubsub_buffer_limit(client: redis.Redis) -> BufferLimit | None:
    """The live server's pubsub buffer limit, or None where CONFIG is disabled (managed Redis)."""
    try:
        reply = client.config_get("client-output-buffer-limit")
    except redis.ResponseError as exc:
        log.debug("CONFIG GET client-output-buffer-limit refused: %s", exc)
        return None
    entries = {key.decode() if isinstance(key, bytes) else key: entry for key, entry in dict(reply).items()}
    value = entries.get("client-output-buffer-limit")
    if isinstance(value, bytes):
        value = value.decode()
    return parse_buffer_limit(value) if value else None


def channels_matching(client: redis.Redis, pattern: str) -> list[str]:
    """Active channels matching ``pattern`` (PUBSUB CHANNELS), for diagnostics."""
    try:
        names = client.pubsub_channels(pattern)
    except (redis.RedisError, OSError):
        return []
    return sorted(name.decode() if isinstance(name, bytes) else str(name) for name in names)
