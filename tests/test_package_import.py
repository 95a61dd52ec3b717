"""``import markov`` without rl_coach fails with one line that says how to install it (issue 2)."""
import subprocess
import sys

HIDE_RL_COACH = """
import sys
sys.modules["rl_coach"] = None  # as if it were not installed
try:
    import markov
except ImportError as exc:
    print(str(exc))
    sys.exit(3)
"""


def test_import_without_rl_coach_says_how_to_install():
    result = subprocess.run([sys.executable, "-c", HIDE_RL_COACH], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    message = result.stdout.strip()
    assert "\n" not in message
    assert "python -m pip install --no-deps rl-coach==1.0.1" in message


def test_import_markov_is_cheap():
    """The package root must not load TensorFlow: the simulator and the CLI's help need none."""
    code = "import sys, markov, markov.model_metadata, markov.sim; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
