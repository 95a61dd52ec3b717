"""``local --domain-randomization``: the flag reaches every rollout worker's simulator, and a bad value fails first."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def local(out, *flags: str, timeout: float = 200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "markov", "local", "--out", str(out), *flags],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_randomised_local_run_trains_and_each_worker_randomises(tmp_path):
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps({"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 32}))
    out = tmp_path / "run"
    done = local(out, "--iterations", "1", "--max-steps", "30", "--workers", "2", "--seed", "3",
                 "--hyperparameters", str(hyperparameters), "--domain-randomization", "brightness=0.2,noise=4")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for index in (0, 1):
        log = (out / "logs" / f"rollout-{index}.log").read_text()
        assert "Domain randomisation per episode: brightness=0.2,noise=4" in log
        assert '"event": "episode"' in log
    assert len((out / "progress.jsonl").read_text().splitlines()) == 1


def test_a_bad_value_fails_before_anything_starts_naming_the_flag(tmp_path):
    done = local(tmp_path / "run", "--domain-randomization", "glare=1", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --domain-randomization 'glare=1': 'glare=1' is not 'on', 'off' or name=value with a name of "
        "light_intensity, light_direction, brightness, contrast, colour, noise"]
    assert not (tmp_path / "run").exists()
