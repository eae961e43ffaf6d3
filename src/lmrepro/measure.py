"""What benchmarks and the GPU check measure, in one shape each, and how they time it.

``BenchResult`` rows make the one table of ratios that `make bench`
(:mod:`lmrepro.tools.bench`) prints; ``CheckResult`` rows make the GPU check's table
(:mod:`lmrepro.tools.gpu_check`). Each track's ``bench`` module returns these, so the
tools know no track's internals.

Speed and memory targets are checked by running the candidate and its reference side by
side in one process (or one script run) and reporting the ratio, never by timing a test:
the machines are shared and noisy, ratios measured together are far steadier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class BenchResult:
    track: str  # rec, mta, prosg, edge, pipeline
    name: str  # what was measured
    candidate: float  # our value (seconds, MB, tokens/s ...)
    reference: float  # the reference's value in the same unit
    unit: str
    target: float | None  # required ratio (None: informational)
    higher_is_better: bool = False  # e.g. throughput; False for seconds and MB
    note: str = ""

    @property
    def ratio(self) -> float:
        """How many times better the candidate is than the reference (>1 = better)."""
        if self.higher_is_better:
            return self.candidate / self.reference if self.reference else float("inf")
        return self.reference / self.candidate if self.candidate else float("inf")

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Minimum wall time of ``repeats`` calls (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def markdown_table(results: list[BenchResult]) -> str:
    lines = [
        "| track | benchmark | ours | reference | unit | ratio (x better) | target | verdict | note |",
        "|---|---|---:|---:|---|---:|---:|---|---|",
    ]
    for r in results:
        verdict = {True: "pass", False: "FAIL", None: "info"}[r.passed]
        target = f">= {r.target:g}x" if r.target is not None else ""
        lines.append(f"| {r.track} | {r.name} | {r.candidate:.4g} | {r.reference:.4g} | {r.unit} | {r.ratio:.2f} | {target} | {verdict} | {r.note} |")
    return "\n".join(lines) + "\n"


@dataclass
class CheckResult:
    """One track's training step on the accelerator (a row of the GPU check's table)."""

    track: str
    model: str  # what was built, in words
    params: int  # all parameters of the model
    trainable: int  # parameters the step updates
    batch: str  # shape of one step's input
    seconds_per_step: float  # mean over the timed steps (the first, warm-up step excluded)
    throughput: float  # units per second
    unit: str
    peak_memory_mb: float  # device peak (CUDA) or 0 where not measured
    note: str = ""


class _Timer:
    """Wall time of the timed steps; synchronises CUDA so queued kernels are counted."""

    def __init__(self, device) -> None:
        self.device = device

    def sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, step, steps: int) -> float:
        step()  # warm-up: allocator, kernels, autotuning
        self.sync()
        started = time.perf_counter()
        for _ in range(steps):
            step()
        self.sync()
        return (time.perf_counter() - started) / steps


def peak_mb(device) -> float:
    """Peak device memory since the last reset (CUDA), 0 elsewhere."""
    import torch

    if device.type != "cuda":
        return 0.0
    return torch.cuda.max_memory_allocated(device) / 2**20


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _count(model) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def time_training(model, loss_fn, lr: float, device, amp: bool, steps: int) -> tuple[float, int, int]:
    """Seconds per AdamW step of ``loss_fn()`` (forward under the stages' autocast switch),
    with all and trainable parameter counts."""
    import torch

    from lmrepro.runtime import autocast

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)

    def step():
        with autocast(device, amp):
            loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        opt.step()

    _reset_peak(device)
    return (_Timer(device).run(step, steps), *_count(model))
