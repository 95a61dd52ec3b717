"""TensorFlow's oneDNN CPU kernels for the trainer, on every x86-64 CPU.

TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX-512; elsewhere (AMD
EPYC and Ryzen before Zen 4, Intel desktop CPUs without AVX-512) it runs Eigen's. On a 2-core
AVX2 AMD EPYC the trainer's PPO iteration took 0.65x the time with oneDNN's kernels, with
150 MB less peak memory (bench/train_iteration.py, docs/performance.md). TensorFlow reads the
switch once, when it loads, so :func:`prefer_onednn` runs before the first import; a user's own
``TF_ENABLE_ONEDNN_OPTS`` wins. Only the trainer asks for it: rollout workers, export and
evaluate keep TensorFlow's choice.
"""
from __future__ import annotations

import os
import platform
import sys

from markov.config import env_value

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
X86_64 = {"x86_64", "amd64"}  # platform.machine() on Linux/macOS and on Windows


def prefer_onednn(machine: str | None = None) -> str:
    """Ask TensorFlow for its oneDNN kernels on an x86-64 CPU, unless the user chose; says what holds.

    Call before TensorFlow is imported (a later call changes nothing in this process). ARM
    builds are left alone: TensorFlow's oneDNN path there is a different, ACL-based one.
    """
    machine = (machine or platform.machine()).lower()
    chosen = env_value(ONEDNN_ENV)
    if chosen is not None:
        return f"TensorFlow CPU kernels: {ONEDNN_ENV}={chosen} as set"
    if machine not in X86_64:
        return f"TensorFlow CPU kernels: TensorFlow's choice ({machine})"
    if "tensorflow" in sys.modules:
        return "TensorFlow CPU kernels: TensorFlow's choice (it was loaded before the trainer could ask for oneDNN)"
    os.environ.update({ONEDNN_ENV: "1"})  # TensorFlow reads it when it loads, in this process (an empty value too)
    return f"TensorFlow CPU kernels: oneDNN ({ONEDNN_ENV}=1; set it to 0 for Eigen's)"
