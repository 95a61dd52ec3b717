"""One Redis pub/sub subscription: redis-py's ``PubSub`` on its own connection, RESP2.

Until this was measured, a hand-written RESP2 reader received episodes here without redis-py's
copies. Over a whole training iteration the difference is lost in the noise
(``bench/redis_reader.py``, docs/performance.md), and redis-py brings TLS and ACL users with it,
so redis-py reads.
"""
from __future__ import annotations

import time

from markov.config import RedisConfig
from markov.memory.client import SOCKET_TIMEOUT, make_client


class Subscriber:
    """One connection subscribed to one channel; ``next_message`` returns the channel's payloads.

    Link failures surface as redis-py's ``ConnectionError``/``TimeoutError`` (or ``OSError``) for the
    caller to reconnect: the client is built without retries.
    """

    def __init__(self, config: RedisConfig, channel: str) -> None:
        self.config = config
        self.channel = channel.encode()
        self._client = make_client(config)
        self._pubsub = self._client.pubsub()

    def connect(self) -> None:
        """Subscribe, and return once Redis confirmed it: a request published after this gets its reply to us."""
        try:
            self._pubsub.subscribe(self.channel)
            deadline = time.monotonic() + SOCKET_TIMEOUT
            while time.monotonic() < deadline:
                message = self._pubsub.get_message(timeout=deadline - time.monotonic())
                if message is not None and message["type"] == "subscribe":
                    return
            raise TimeoutError(f"Redis did not confirm the subscription to {self.channel.decode()!r}")
        except BaseException:
            self.close()
            raise

    def next_message(self, timeout: float) -> bytes | None:
        """The next payload published on the channel, or None if none arrived within ``timeout`` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            message = self._pubsub.get_message(timeout=max(deadline - time.monotonic(), 0.0))
            if message is not None and message["type"] == "message" and message["channel"] == self.channel:
                return message["data"]
            if message is None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        try:
            self._pubsub.close()
        finally:
            self._client.close()
