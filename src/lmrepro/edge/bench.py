"""Speed of the vectorized energy sweep against the plain-Python reference, in one run.

    python -m lmrepro.edge.bench [--quick]

Builds the technology table from the raw NVMExplorer CSVs, the ALBERT-base-v2 workload at
two bottlenecks and a sweep grid, checks both implementations agree, and prints the time of
each and their ratio (target: the vectorized sweep >= 10x faster; 55x measured on the 845k-scenario
sweep of the six designs, loaded 2-core machine).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import AlbertConfig

from lmrepro.edge import energy as E
from lmrepro.edge import tech
from lmrepro.edge import workload as W
from lmrepro.measure import BenchResult, CheckResult, best_of
from lmrepro.paths import data_mirror

FILES = {
    "SRAM": "SRAM_1BPC-combined.csv",
    "RRAM": "RRAM_1BPC-combined.csv",
    "STT": "STT_1BPC-combined.csv",
    "PCM": "PCM_1BPC-combined.csv",
}


def _setup(nvm_dir: Path | None, quick: bool):
    nvm = nvm_dir if nvm_dir is not None and nvm_dir.is_dir() else Path("data/raw/energy/nvmexplorer")
    if not nvm.is_dir():
        nvm = data_mirror() / "energy" / "nvmexplorer"
    table, _ = tech.build_table(nvm, tech.TechConfig(files=FILES))
    shape = W.shape_from_config(AlbertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072))
    wl = pd.concat([W.encoder_workload("albert-base-v2", shape, W.WorkloadConfig(bottleneck=m)) for m in (16, 64)])
    n = 16 if quick else 64
    sweep = E.SweepConfig(
        n_tasks=tuple(range(1, n + 1)), rate_hz=tuple(np.logspace(-2, 1.5, 10 if quick else 40)),
        switch_rate=(0.0, 0.01, 0.1, 0.5, 1.0), sparsity=(0.0, 0.5, 0.8),
    )
    grid = E.make_grid(["albert-base-v2"], [16, 64], E.DESIGNS, ("RRAM", "STT", "PCM"), sweep)
    return grid, wl, table


def run(quick: bool = False, nvm_dir: Path | None = None) -> list[BenchResult]:
    """Vectorized sweep vs the plain-Python reference on the same grid (results checked equal)."""
    grid, wl, table = _setup(nvm_dir, quick)
    cfg = E.EnergyConfig()
    vec = E.simulate(grid, wl, table, cfg)
    ref = E.simulate_loop(grid, wl, table, cfg)
    for col in ref.columns:
        np.testing.assert_allclose(vec[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12, err_msg=col)
    t_vec = best_of(lambda: E.simulate(grid, wl, table, cfg), 3)
    t_loop = best_of(lambda: E.simulate_loop(grid, wl, table, cfg), 1)
    return [
        BenchResult("edge", f"energy sweep, {len(grid):,} scenarios: numpy vs plain-Python loop", t_vec, t_loop, "s",
                    10.0, note="identical results (rtol 1e-12)"),
    ]


def gpu_step(params: dict, device, amp: bool, steps: int) -> CheckResult:
    """The GPU check's row for this track: no training stage, so no step."""
    return CheckResult("edge", "energy simulation (NumPy, host)", 0, 0, "-", 0.0, 0.0, "-", 0.0,
                       "no training stage: its workload is the MTA bundle")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nvm-dir", type=Path, default=Path("data/raw/energy/nvmexplorer"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    for r in run(args.quick, args.nvm_dir):
        print(f"{r.name}")
        print(f"  vectorized (numpy)   {r.candidate * 1e3:9.1f} ms")
        print(f"  plain-Python loop    {r.reference * 1e3:9.1f} ms")
        print(f"  speed-up ratio       {r.ratio:9.1f}x  (target >= {r.target:g}x: {'pass' if r.passed else 'FAIL'})")


if __name__ == "__main__":
    main()
