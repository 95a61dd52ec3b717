"""markov.child_process.terminate: SIGTERM first, SIGKILL for a child that ignores it."""
import signal
import subprocess
import sys
import time

from markov.child_process import terminate

IGNORES_SIGTERM = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"


def test_a_child_that_obeys_ends_on_sigterm():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    terminate(child, timeout=10)
    assert child.returncode == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout():
    child = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    started = time.monotonic()
    terminate(child, timeout=0.5)
    assert child.returncode == -signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 10


def test_an_exited_child_is_only_reaped():
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    child.wait()
    terminate(child)
    assert child.returncode == 3
