"""Fixtures shared by every test folder.

rl_coach is loaded through markov.compat here, before any test module is collected: a module that
imports an rl_coach module directly would otherwise load Coach's logger without the compat fix
(pandas 3 columns), and a later test that trains through Coach's full ``train()`` fails.
"""
from __future__ import annotations

import os

import pytest

import markov.compat  # noqa: F401

# Each worker builds TensorFlow graphs and starts trainer processes (2-3 GB at its peak): more
# workers than this would trade memory for little, since the slow tests mostly wait on children.
MAX_TEST_WORKERS = 4


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (pyproject.toml): one worker per core, at most MAX_TEST_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_TEST_WORKERS))

REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials for this process and the subprocesses it starts: nothing can reach AWS.

    Settings of the developer's own shell that would change what the code under test talks to
    (profile, endpoint, Redis, work folders) are removed.
    """
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "SM_TRAINING_ENV",
                 "REDIS_HOST", "REDIS_PORT", "REDIS_PUBLIC_IP", "SAGEMAKER_SHARED_S3_BUCKET", "DEEPRACER_WORK_DIR",
                 "DEEPRACER_LOCAL_STORE", "MAX_MEMORY_STEPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
