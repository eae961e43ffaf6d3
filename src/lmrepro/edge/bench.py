"""Speed of the vectorized energy sweep against the plain-Python reference, in one run.

    python -m lmrepro.edge.bench [--repeat 3]

Builds the technology table from the raw NVMExplorer CSVs, the ALBERT-base-v2 workload at
two bottlenecks and a sweep grid, checks both implementations agree, and prints the time of
each and their ratio (the target: the vectorized sweep is >= 20x faster on a paper-sized sweep).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import AlbertConfig

from lmrepro.edge import energy as E
from lmrepro.edge import tech
from lmrepro.edge import workload as W

FILES = {
    "SRAM": "SRAM_1BPC-combined.csv",
    "RRAM": "RRAM_1BPC-combined.csv",
    "STT": "STT_1BPC-combined.csv",
    "PCM": "PCM_1BPC-combined.csv",
}


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nvm-dir", type=Path, default=Path("data/raw/energy/nvmexplorer"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    nvm = args.nvm_dir if args.nvm_dir.is_dir() else Path("/work/shared/data/energy/nvmexplorer")
    table, _ = tech.build_table(nvm, tech.TechConfig(files=FILES))
    shape = W.shape_from_config(AlbertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072))
    wl = pd.concat([W.encoder_workload("albert-base-v2", shape, W.WorkloadConfig(bottleneck=m)) for m in (16, 64)])
    sweep = E.SweepConfig(
        n_tasks=tuple(range(1, 65)), rate_hz=tuple(np.logspace(-2, 1.5, 40)), switch_rate=(0.0, 0.01, 0.1, 0.5, 1.0),
        sparsity=(0.0, 0.5, 0.8),
    )
    grid = E.make_grid(["albert-base-v2"], [16, 64], E.DESIGNS, ("RRAM", "STT", "PCM"), sweep)
    cfg = E.EnergyConfig()
    t_vec, vec = _best(lambda: E.simulate(grid, wl, table, cfg), args.repeat)
    t_loop, ref = _best(lambda: E.simulate_loop(grid, wl, table, cfg), 1)
    for col in ref.columns:
        np.testing.assert_allclose(vec[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12, err_msg=col)
    print(f"scenarios            {len(grid)}")
    print(f"vectorized (numpy)   {t_vec * 1e3:9.1f} ms  ({len(grid) / t_vec:,.0f} scenarios/s)")
    print(f"plain-Python loop    {t_loop * 1e3:9.1f} ms  ({len(grid) / t_loop:,.0f} scenarios/s)")
    print(f"speed-up ratio       {t_loop / t_vec:9.1f}x  (results identical to rtol 1e-12)")


if __name__ == "__main__":
    main()
