"""The floating-point precision the trainer's session computes in, chosen once at start-up.

Mixed precision here is a graph rewrite of the session, never a change to the graph we build:
variables, optimizer slots, ``graphdef.pb``, checkpoints and frozen graphs stay float32 with the
image's names and shapes (docs/protocol.md §3.4), so a bf16-trained checkpoint restores in any
rollout worker. TensorFlow's grappler rewrites the graph it runs for each session call: allowed
ops (convolutions, matrix products and their gradients) compute in 16 bits between inserted
casts, while losses, softmax and the optimizer's updates stay float32.

* CPU: oneDNN's ``auto_mixed_precision_onednn_bfloat16`` rewrite (bf16). Worth it only where the
  CPU multiplies bf16 natively: AMX (``amx_bf16``) or AVX-512-BF16 (``avx512_bf16``); elsewhere
  oneDNN emulates bf16 and is slower than float32.
* GPU: grappler's ``auto_mixed_precision`` rewrite, which converts to float16 on devices with
  fast fp16 (compute capability 7.0 and up). It is TensorFlow's only mixed-precision rewrite for
  GPU nodes of a TF1 session (Keras' ``mixed_bfloat16`` policy does not reach Coach's graph), and
  it adds no loss scaling. Not verified on a GPU yet (docs/performance.md).

Only the trainer asks for mixed precision: rollout workers, ``new-model`` and export build their
sessions in float32 (the default of :func:`session_precision_options`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from markov.errors import ConfigError

if TYPE_CHECKING:  # TensorFlow is imported where a session is configured, not where flags are parsed
    from tensorflow.core.protobuf.config_pb2 import ConfigProto

log = logging.getLogger(__name__)

AUTO, FP32, BF16, FP16 = "auto", "fp32", "bf16", "fp16"
PRECISION_CHOICES = (AUTO, FP32, BF16, FP16)
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo names of native bf16 arithmetic
FAST_FP16_COMPUTE_CAPABILITY = (7, 0)  # Volta and later: tensor cores
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Hardware:
    """What the precision choice depends on; tests build one by hand instead of detecting it.

    Attributes:
        cpu_flags: the CPU's feature flags as /proc/cpuinfo names them (``avx512_bf16``, ...).
        gpu_compute_capabilities: (major, minor) of each GPU TensorFlow sees; empty on a CPU-only
            machine, where the networks run on the CPU (``manager.task_parameters``).
    """

    cpu_flags: frozenset[str]
    gpu_compute_capabilities: tuple[tuple[int, int], ...] = ()

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpu_compute_capabilities)

    @property
    def cpu_bf16_flags(self) -> tuple[str, ...]:
        """The native-bf16 flags this CPU has, in the order of :data:`BF16_CPU_FLAGS`."""
        return tuple(flag for flag in BF16_CPU_FLAGS if flag in self.cpu_flags)

    @property
    def gpu_has_fast_fp16(self) -> bool:
        return self.has_gpu and all(cc >= FAST_FP16_COMPUTE_CAPABILITY for cc in self.gpu_compute_capabilities)


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a session computes in (``fp32``, ``bf16`` or ``fp16``) and why, for the log."""

    precision: str
    reason: str

    def describe(self) -> str:
        return f"Training precision: {self.precision} ({self.reason})"


def read_cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The ``flags`` of the first processor in ``cpuinfo``; empty where there is none (not Linux, ARM)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def detect_hardware(cpuinfo: Path = CPUINFO) -> Hardware:
    """This machine's CPU flags and the compute capability of every GPU TensorFlow sees."""
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        capabilities.append(tuple(capability) if capability else (0, 0))
    return Hardware(read_cpu_flags(cpuinfo), tuple(capabilities))


def choose_precision(requested: str, hardware: Hardware) -> PrecisionChoice:
    """Resolve ``--precision`` against the hardware.

    ``auto`` takes 16-bit arithmetic only where the hardware does it natively: bf16 on a CPU
    with AMX or AVX-512-BF16, fp16 on GPUs of compute capability 7.0 and up; float32 elsewhere.
    An explicit ``fp32``/``bf16``/``fp16`` is obeyed where it can take effect.

    Raises:
        ConfigError: ``bf16`` with the networks on a GPU (no GPU rewrite to bf16 exists for a
            TF1 session), ``fp16`` without a GPU, or an unknown value.
    """
    if requested not in PRECISION_CHOICES:
        raise ConfigError(f"--precision / DEEPRACER_PRECISION = {requested!r}: use one of {', '.join(PRECISION_CHOICES)}")
    if requested == FP32:
        return PrecisionChoice(FP32, "requested")
    if hardware.has_gpu:
        return _choose_on_gpu(requested, hardware)
    if requested == FP16:
        raise ConfigError("--precision fp16 needs a GPU, and TensorFlow sees none: use auto, bf16 or fp32")
    native = hardware.cpu_bf16_flags
    if requested == BF16:
        if native:
            return PrecisionChoice(BF16, f"requested; this CPU has {'+'.join(native)}, oneDNN bf16 rewrite")
        return PrecisionChoice(BF16, "requested, but this CPU has neither AMX nor AVX-512-BF16: oneDNN emulates "
                                     "bf16, expect it to be slower than fp32")
    if native:
        return PrecisionChoice(BF16, f"auto: this CPU has {'+'.join(native)}, oneDNN bf16 rewrite; "
                                     "variables and checkpoints stay fp32")
    return PrecisionChoice(FP32, "auto: this CPU has neither AMX nor AVX-512-BF16")


def _choose_on_gpu(requested: str, hardware: Hardware) -> PrecisionChoice:
    capabilities = ", ".join(f"{major}.{minor}" for major, minor in hardware.gpu_compute_capabilities)
    if requested == BF16:
        raise ConfigError("--precision bf16 is the CPU's oneDNN rewrite, and the networks run on the GPU here: "
                          "use auto or fp16 (TensorFlow's GPU rewrite converts to fp16) or fp32")
    if hardware.gpu_has_fast_fp16:
        return PrecisionChoice(FP16, f"{'auto' if requested == AUTO else 'requested'}: GPU compute capability "
                                     f"{capabilities}, TensorFlow's fp16 mixed-precision rewrite")
    if requested == FP16:
        return PrecisionChoice(FP16, f"requested, but GPU compute capability {capabilities} is below 7.0: "
                                     "expect no speed-up")
    return PrecisionChoice(FP32, f"auto: GPU compute capability {capabilities} has no fast fp16")


def resolve_precision(requested: str, hardware: Hardware | None = None) -> PrecisionChoice:
    """:func:`choose_precision` on this machine (unless ``hardware`` is given), logged in one line."""
    choice = choose_precision(requested, detect_hardware() if hardware is None else hardware)
    log.info(choice.describe())
    return choice


def session_precision_options(config: ConfigProto, precision: str = FP32) -> ConfigProto:
    """Switch on the graph rewrite for ``precision`` in ``config`` (in place; returned for chaining).

    fp32 leaves ``config`` exactly as it was, so inference sessions are unchanged.
    """
    from tensorflow.core.protobuf import rewriter_config_pb2

    rewrite = config.graph_options.rewrite_options
    if precision == BF16:
        rewrite.auto_mixed_precision_onednn_bfloat16 = rewriter_config_pb2.RewriterConfig.ON
    elif precision == FP16:
        rewrite.auto_mixed_precision = rewriter_config_pb2.RewriterConfig.ON
    elif precision != FP32:
        raise ValueError(f"not a session precision: {precision!r} (resolve 'auto' with choose_precision first)")
    return config

