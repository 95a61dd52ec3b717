"""TensorFlow's native start-up lines: none on a normal run's stderr, all of them with --debug."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from markov.cli.tensorflow_logging import NATIVE_RECORD, without_native_records

SRC = Path(__file__).resolve().parents[2] / "src"
METADATA = SRC / "markov" / "defaults" / "model_metadata.json"


def native_records(text: str) -> list[str]:
    """The lines of ``text`` that the filter treats as native log records."""
    return [line for line in text.splitlines() if NATIVE_RECORD.match(line)]


# What TensorFlow 2.21 writes at start on a machine without a GPU (abridged; the real ones are longer).
NATIVE = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796171884.070296    5375 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796171884.072694    5375 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796171884.193360    5375 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796172232.656640   11635 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""


def test_the_filter_drops_native_records_and_keeps_everything_else():
    ours = "/x/site.py:3: UserWarning: a Python warning\nerror: --model-metadata m.json: not found\n"
    mixed = NATIVE.splitlines(keepends=True)
    text = "".join(mixed[:3]) + ours + "".join(mixed[3:])
    assert len(native_records(text)) == 6
    assert without_native_records(text) == ours


def new_model(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "markov", *flags, "new-model", "--model-metadata", str(METADATA),
                           "--out", str(tmp_path / "model")], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_normal_run_prints_no_native_lines_and_no_colour_codes(tmp_path):
    result = new_model(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not one native line, the cuInit error included
    assert "\x1b[" not in result.stdout  # Coach's titles arrive as plain lines in a pipe
    assert "## Creating graph" in result.stdout and "Wrote a new clipped_ppo model" in result.stdout


@pytest.mark.slow
def test_debug_keeps_them(tmp_path):
    result = new_model(tmp_path, "--debug")
    assert result.returncode == 0, result.stderr
    records = native_records(result.stderr)
    assert any("absl::InitializeLog" in line for line in records)
    assert len(records) >= 3  # the banner and the libraries' notices (oneDNN, CUDA, CPU features: by machine)
