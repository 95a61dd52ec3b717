"""Ending a child process we started: ask first (SIGTERM), then insist (SIGKILL).

The embedded Redis, the supervisor of ``deepracer-trainer local`` and the tests' servers all end
their children the same way, so that a child that ignores SIGTERM can never leave the parent
waiting forever or outlive it.
"""
from __future__ import annotations

import subprocess


def terminate(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL and reap.

    Args:
        process: a child started with ``subprocess.Popen``; one that has already exited is only reaped.
        timeout: seconds the child gets to exit by itself after SIGTERM.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
