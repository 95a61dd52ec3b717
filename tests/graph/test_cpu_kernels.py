"""The trainer asks TensorFlow for its oneDNN CPU kernels on x86-64, before TensorFlow loads; a user's setting wins."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from markov.graph.cpu_kernels import ONEDNN_ENV, prefer_onednn

# What TensorFlow itself reports once loaded: whether its oneDNN kernels are on in this process.
REPORT = ("from markov.graph.cpu_kernels import prefer_onednn; line = prefer_onednn(); "
          "from tensorflow.python.util import _pywrap_util_port as port; print(port.IsMklEnabled()); print(line)")


def _run(env_value: str | None) -> list[str]:
    env = {name: value for name, value in os.environ.items() if name != ONEDNN_ENV}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if env_value is not None:
        env[ONEDNN_ENV] = env_value
    done = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()[-2:]


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN is asked for on x86-64 only")
def test_tensorflow_runs_onednn_kernels_when_the_trainer_asks():
    enabled, line = _run(None)
    assert enabled == "True"
    assert line == f"TensorFlow CPU kernels: oneDNN ({ONEDNN_ENV}=1; set it to 0 for Eigen's)"


def test_a_users_setting_wins():
    enabled, line = _run("0")
    assert enabled == "False"
    assert line == f"TensorFlow CPU kernels: {ONEDNN_ENV}=0 as set"


def test_arm_and_a_loaded_tensorflow_are_left_alone(monkeypatch):
    monkeypatch.delenv(ONEDNN_ENV, raising=False)
    assert prefer_onednn("arm64") == "TensorFlow CPU kernels: TensorFlow's choice (arm64)"
    assert ONEDNN_ENV not in os.environ
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    assert "it was loaded before" in prefer_onednn("x86_64")
    assert ONEDNN_ENV not in os.environ
