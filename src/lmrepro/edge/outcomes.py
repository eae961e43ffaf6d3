"""Per-unit outcomes of the edge track, for the claims registry (workflow/claims/edge.yaml).

Two sources:
- ``edge_energy``: the energy model's sweep. An arm selects a design (and its technology,
  off-chip store, model); the claim's ``region`` adds the operating region
  (``rate_hz_max``, ``n_tasks_min``, and column filters). The unit is the scenario
  (bottleneck, n_tasks, rate, switch rate, sparsity). A design that is infeasible there,
  or that wears out sooner than ``min_lifetime_years``, gets LOSES: it cannot serve that
  scenario, so any design that can wins it.
- ``edge_robustness``: per-row correctness of the trained ALTER bundle under a backbone
  perturbation (condition, bit-error rate, sparsity). The unit is the test row (task,
  row), the strata are the tasks; the bit-error draws of one rate are averaged per row
  (the claim is about the expected accuracy at that rate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro.claims.loading import LOSES, Loader, cached_reader, outcomes_from_series
from lmrepro.claims.stats import Outcomes
from lmrepro.edge.schemas import EnergyResults, RobustnessPredictions
from lmrepro.errors import LmreproError

ENERGY = Path("data") / "edge" / "energy.parquet"
ROBUSTNESS = Path("data") / "edge" / "robustness_predictions.parquet"
SCENARIO = ["bottleneck", "n_tasks", "rate_hz", "switch_rate", "sparsity"]
_SPECIAL = {"rate_hz_max", "rate_hz_min", "n_tasks_min", "min_lifetime_years"}


def energy_loader(root: Path) -> Loader:
    read = cached_reader(root / ENERGY, EnergyResults)

    def load(select: dict, metric: str) -> Outcomes:
        if metric != "energy_per_inference_uj":
            raise LmreproError(f"edge energy claims support metric 'energy_per_inference_uj', not {metric!r}")
        df = read()
        keep = np.ones(len(df), dtype=bool)
        for key, value in select.items():
            if key in _SPECIAL:
                continue
            if key not in df.columns:
                raise LmreproError(f"{root / ENERGY}: no column {key!r} (edge claim selection)")
            keep &= df[key].isin(value if isinstance(value, list) else [value]).to_numpy()
        keep &= (df["rate_hz"] <= select.get("rate_hz_max", np.inf)).to_numpy()
        keep &= (df["rate_hz"] >= select.get("rate_hz_min", 0)).to_numpy()
        keep &= (df["n_tasks"] >= select.get("n_tasks_min", 0)).to_numpy()
        rows = df[keep]
        if rows.empty:
            raise LmreproError(f"{root / ENERGY}: no scenario matches edge arm {select} (per-unit outcomes not found)")
        if rows.duplicated(SCENARIO).any():
            raise LmreproError(f"edge arm {select} selects several designs per scenario: name the design fully")
        serves = rows["feasible"] & (rows["lifetime_years"] >= select.get("min_lifetime_years", 0))
        energy = np.where(serves, rows["total_uj"], LOSES)
        series = pd.Series(energy, index=pd.MultiIndex.from_frame(rows[SCENARIO]))
        return outcomes_from_series(series, f"edge arm {select}")

    return load


def robustness_loader(root: Path) -> Loader:
    read = cached_reader(root / ROBUSTNESS, RobustnessPredictions)

    def load(select: dict, metric: str) -> Outcomes:
        if metric != "accuracy":
            raise LmreproError(f"edge robustness claims support metric 'accuracy', not {metric!r}")
        df = read()
        rows = df[(df["condition"] == select["condition"])
                  & np.isclose(df["bit_error_rate"], float(select.get("bit_error_rate", 0.0)))
                  & np.isclose(df["sparsity"], float(select.get("sparsity", 0.0)))]
        if rows.empty:
            raise LmreproError(f"{root / ROBUSTNESS}: no rows for edge arm {select} (per-unit outcomes not found)")
        per_row = rows.groupby(["task", "row"])["correct"].mean()  # mean over bit-error draws
        return outcomes_from_series(per_row.astype(float), f"edge arm {select}", strata_level="task")

    return load
