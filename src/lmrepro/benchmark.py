"""A common shape for benchmark results, so `make bench` prints one table of ratios.

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
