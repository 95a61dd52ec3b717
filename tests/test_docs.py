"""Every command in docs/windows.md, docs/linux.md and the README is run here, or says why it cannot be.

The convention, for anyone editing those files:

- A fenced block whose info string is exactly ``bash`` is *runnable*. This test runs all runnable
  blocks of one document, in order, as one bash script (``set -euo pipefail``), in an empty
  folder, against a moto S3 server and a real redis-server that it starts on free ports. So
  exports carry over from block to block, as they do in a reader's terminal.
- A block whose info string is ``<language> not-runnable-here: <reason>`` (``bash``,
  ``powershell``, ``cmd``) is not run: Docker, MinIO binaries, conda, package installs, Windows
  shells. The reason is required and is shown to readers as the block's first comment line too.
  Its commands are still checked for the trainer flags they use (below).
- Blocks in other languages (``json``, ``text``, ``python``) hold no commands.

Substitutions make the documented values point at the test's servers: ``http://localhost:9000``
(MinIO's address in the docs) becomes the moto server's URL, and ``REDIS_PORT`` is set to the test
Redis's port (the docs use the default 6379, which the simulation workers require). A
``python -m training_worker`` command runs through tests/run_trainer_briefly.py: until the
trainer has published its model and written ``.ready``, then SIGTERM, and it must exit 0.

The README's blocks are plain ``bash`` (its owner keeps it free of markers); the few commands that
cannot run here are listed in README_NOT_RUN with the reason, and the rest run the same way.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from markov.config import build_arg_parser
from markov.memory.redis_server import LOOPBACK, RedisServer, find_redis_server, free_port

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "docs" / "linux.md", ROOT / "docs" / "windows.md"]
README = ROOT / "README.md"
BRIEFLY = Path(__file__).with_name("run_trainer_briefly.py")
DOCUMENTED_ENDPOINT = "http://localhost:9000"
NOT_RUNNABLE = "not-runnable-here:"
SHELLS = {"bash", "sh", "shell", "console", "powershell", "ps1", "cmd", "bat"}

# README commands that do not run here, by their first words, and why.
README_NOT_RUN = {
    "python -m pip install": "installs packages; .ci/run runs this line on a fresh machine",
    "deepracer-trainer local": "a whole local training of 10 iterations; tests/local runs it with short settings",
    "python -m pytest": "the test suite itself; .ci/run runs it",
    "deepracer-trainer export --checkpoint runs/first": "exports the model of the local run above; tests/export runs export",
}

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```", re.S | re.M)


def blocks(path: Path) -> list[tuple[str, str]]:
    """``(info string, body)`` of every fenced block."""
    return [(match.group(1).strip(), match.group(2)) for match in FENCE.finditer(path.read_text(encoding="utf-8"))]


def commands(body: str) -> list[str]:
    """The commands of a block: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"[\\`]\n\s*", " ", body)  # bash "\" and PowerShell "`" continuations
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def runnable_script(path: Path, skip: dict[str, str] | None = None) -> str:
    parts = []
    for info, body in blocks(path):
        if info != "bash":
            continue
        lines = []
        for line in body.splitlines():
            if skip and any(line.strip().startswith(prefix) for prefix in skip):
                continue
            if line.startswith("python -m training_worker") and "--help" not in line:
                line = f"python {shlex.quote(str(BRIEFLY))} {line}"
            lines.append(line)
        parts.append("\n".join(lines))
    return "set -euo pipefail\n" + "\n".join(parts).replace(DOCUMENTED_ENDPOINT, "$DOC_TEST_S3_ENDPOINT") + "\n"


@pytest.fixture
def servers(tmp_path, monkeypatch):
    """A moto S3 server and a redis-server on free ports; yields the environment for the script."""
    if find_redis_server() is None:
        pytest.skip("no redis-server executable")
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    moto.start()
    url = f"http://{LOOPBACK}:{port}"
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10).close()
    (tmp_path / "redis").mkdir()
    redis = RedisServer(port=free_port(), bind=(LOOPBACK,), workdir=tmp_path / "redis").start()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "S3_", "REDIS_", "SM_", "DEEPRACER_"))}
    env.update(DOC_TEST_S3_ENDPOINT=url, REDIS_PORT=str(redis.port), PYTHONUNBUFFERED="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])))
    try:
        yield env
    finally:
        redis.close()
        moto.stop()


def run_script(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    (cwd / "doc.sh").write_text(script)
    return subprocess.run(["bash", str(cwd / "doc.sh")], cwd=cwd, env=env, capture_output=True, text=True, timeout=480)


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_runnable_commands_run(doc, servers, tmp_path):
    work = tmp_path / "reader"
    work.mkdir()
    result = run_script(runnable_script(doc), servers, work)
    assert result.returncode == 0, f"{doc.name} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    assert "Rollout workers will reach Redis" in result.stdout  # a trainer did run


@pytest.mark.slow
def test_readme_commands_run(servers, tmp_path):
    script = runnable_script(README, skip=README_NOT_RUN)
    assert "run_trainer_briefly" in script and "deepracer-trainer init" in script
    work = tmp_path / "reader"
    work.mkdir()
    # The README's trainer command relies on the endpoint and credentials of the docs' set-up.
    env = dict(servers, S3_ENDPOINT_URL=servers["DOC_TEST_S3_ENDPOINT"], AWS_ACCESS_KEY_ID="minioadmin",
               AWS_SECRET_ACCESS_KEY="minioadmin", AWS_REGION="us-east-1")
    result = run_script(script, env, work)
    assert result.returncode == 0, f"README failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_command_block_runs_or_says_why_not(doc):
    seen_runnable = False
    for info, body in blocks(doc):
        language, _, rest = info.partition(" ")
        if language not in SHELLS:
            continue
        if info == "bash":
            seen_runnable = True
            continue
        assert rest.startswith(NOT_RUNNABLE), f"{doc.name}: a ```{info} block is neither runnable nor marked:\n{body}"
        assert rest[len(NOT_RUNNABLE):].strip(), f"{doc.name}: ```{info} needs a reason after {NOT_RUNNABLE}"
    assert seen_runnable


@pytest.mark.parametrize("doc", [*DOCS, README], ids=lambda path: path.name)
def test_trainer_flags_in_every_block_exist(doc):
    """Even commands that cannot run here only use flags the trainer knows (PowerShell and WSL blocks too)."""
    known = {option for action in build_arg_parser({})._actions for option in action.option_strings}
    for info, body in blocks(doc):
        if info.partition(" ")[0] not in SHELLS:
            continue
        for command in commands(body):
            if "training_worker" not in command:
                continue
            flags = {word for word in command.split() if word.startswith("--")}
            assert flags <= known, f"{doc.name}: unknown trainer flags {flags - known} in: {command}"
