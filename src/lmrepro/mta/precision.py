"""Which float path the MTA track trains in on CPU (``mta.precision``).

Why not always bf16: bf16 autocast halves full fine-tuning only on CPUs with bf16
instructions (AVX512-BF16 or AMX; measured 26.5 -> 12.3 ms per training row on an EPYC
with avx512_bf16). On a CPU without them (e.g. an AVX2-only EPYC) oneDNN emulates bf16
and a 2048x384 @ 384x384 matmul runs ~18x slower than in fp32 (1.7 vs 31.8 GFLOP/s, one
thread), which would turn the ALTER part of ``make reproduce`` from minutes into hours.

``auto`` therefore picks bf16 where the CPU has it natively and fp32 elsewhere; ``bf16``
and ``fp32`` force one path (a forced bf16 without native support is logged as a warning,
not refused: someone may want the bf16 numbers on any machine). The resolved precision is
recorded with every run (MLflow tag, run records, the report), because the two paths give
slightly different numbers.
"""

from __future__ import annotations

import logging

import torch

from lmrepro.errors import LmreproError

PRECISIONS = ("auto", "fp32", "bf16")

log = logging.getLogger(__name__)


def native_bf16() -> bool:
    """True where the CPU has bf16 instructions (AVX512-BF16 or AMX tiles)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def cpu_capability() -> str:
    """torch's name for the vector ISA it dispatches to here (e.g. AVX2, AVX512)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # very old torch
        return "unknown"


def resolve(requested: str, native: bool | None = None) -> str:
    """``mta.precision`` -> the path used on this CPU: ``"bf16"`` or ``"fp32"``."""
    if requested not in PRECISIONS:
        raise LmreproError(f"mta.precision must be one of {list(PRECISIONS)}, got {requested!r}")
    native = native_bf16() if native is None else native
    if requested == "auto":
        return "bf16" if native else "fp32"
    if requested == "bf16" and not native:
        log.warning("mta.precision: bf16 on a CPU without bf16 instructions (%s): emulated bf16 is many times "
                    "slower than fp32 here; set mta.precision: auto or fp32", cpu_capability())
    return requested
