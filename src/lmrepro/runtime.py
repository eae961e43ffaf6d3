"""Seeding, thread pinning, logging and progress: the process-wide knobs of a stage.

Thread counts change floating-point results (and on 2 cores small BLAS problems can run
slower with 2 threads than 1), so they are a param applied here, never derived from the
orchestrator's --cores.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from typing import Iterable, Iterator, TypeVar

import numpy as np

T = TypeVar("T")

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def set_threads(n: int) -> None:
    """Pin BLAS/OpenMP and torch to ``n`` threads for the rest of the process."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.set_num_threads(n)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set once in this process
            pass


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.manual_seed(seed)
    deterministic_algorithms()


def deterministic_algorithms() -> None:
    """torch's deterministic-algorithms switch (warn where an op has no deterministic kernel).

    ``torch.use_deterministic_algorithms`` also sets the flag in torch._inductor's config,
    and importing that pulls in the whole compiler stack (torch._dynamo): about 4 s of every
    stage's start on a 2-core machine, for a compiler no stage uses. So the compiler's flag
    is set only when the compiler is already loaded; the kernels' switch is set either way.
    """
    import torch

    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch._C._set_deterministic_algorithms(True, warn_only=True)


def resolve_device(spec: str):
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error.

    The default profile pins ``cpu`` so CPU results never depend on the machine.
    """
    import torch

    from lmrepro.errors import LmreproError

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cuda" and not torch.cuda.is_available():
        raise LmreproError("runtime.device: 'cuda' requested but no CUDA device is available (use 'auto' or 'cpu')")
    if spec not in ("cpu", "cuda"):
        raise LmreproError(f"runtime.device: unknown device {spec!r} (auto, cpu or cuda)")
    return torch.device(spec)


def autocast(device, enabled: bool):
    """bf16 autocast on CUDA when mixed precision is enabled; a no-op on CPU.

    bf16 keeps fp32's range, so no loss scaling is needed; CPU runs stay in fp32 so
    their metrics do not change with this switch.
    """
    import contextlib

    import torch

    if enabled and getattr(device, "type", str(device)) == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def get_logger(name: str = "lmrepro") -> logging.Logger:
    return logging.getLogger(name)


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_lmrepro", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        handler._lmrepro = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "mlflow", "urllib3", "git", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, **kwargs) -> Iterator[T]:
    """tqdm that stays readable in a log file: updates at most every 10 s off a terminal."""
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            mininterval=0.5 if interactive else 10.0,
            dynamic_ncols=interactive,
            ascii=not interactive,
            file=sys.stderr,
            **kwargs,
        )
    )
