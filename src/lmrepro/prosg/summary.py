"""Pool the per-seed ProSG predictions: accuracy per method x kind x distance as a mean
over seeds and items with a 95% CI that resamples both (the same two-level bootstrap the
claims use, lmrepro.claims.stats), so a table cell and a claim's arm agree.

Why not Wilson intervals any more: with several seeds the outcomes of one item are not
independent draws (the same item under three seeds), and seed-to-seed variation of the
trained models is part of the uncertainty a reader needs to see.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrepro.claims.stats import statistic, unit_weights
from lmrepro.errors import LmreproError


def outcome_matrix(rows: pd.DataFrame, where: str) -> np.ndarray:
    """(S, N) 0/1 outcomes: one row per seed, one column per test item (uid), every item
    scored under every seed."""
    table = rows.pivot_table(index="seed", columns="uid", values="correct", aggfunc="first")
    if table.isna().any().any():
        raise LmreproError(f"{where}: not every test item was scored under every seed")
    return table.to_numpy(float)


def mean_ci(values: np.ndarray, n_boot: int, rng: np.random.Generator, alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean of (S, N) outcomes and its percentile CI, resampling items and seeds."""
    s, n = values.shape
    w_units = unit_weights(n, None, n_boot, rng)  # (B, N)
    w_seeds = rng.multinomial(s, np.full(s, 1.0 / s), size=n_boot) / s if s > 1 else np.ones((n_boot, 1))
    boot = statistic(values, w_units, w_seeds)  # (B,)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    mean, low, high = float(values.mean()), float(values.min()), float(values.max())
    # weighted sums land a hair outside the outcomes' range (all-correct cells give 0.9999...);
    # a mean cannot leave that range, and the point estimate must lie inside its own interval
    return mean, min(max(float(lo), low), mean), max(min(float(hi), high), mean)


def accuracy_table(preds: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """One row per method x kind x distance (kind 'all': kinds pooled): n items, seeds,
    mean accuracy, CI. Deterministic: each cell's bootstrap is seeded by (seed, cell index)."""
    pooled = pd.concat([preds, preds.assign(kind="all")], ignore_index=True)
    rows = []
    for i, ((method, kind, distance), g) in enumerate(pooled.groupby(["method", "kind", "distance"], sort=True)):
        values = outcome_matrix(g, f"ProSG predictions, {method} {kind} distance {distance}")
        mean, lo, hi = mean_ci(values, n_boot, np.random.default_rng([seed, i]))
        rows.append({"method": method, "kind": kind, "distance": int(distance), "n": values.shape[1],
                     "seeds": values.shape[0], "accuracy": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def with_filler(preds: pd.DataFrame, n_boot: int, seed: int) -> dict[str, dict]:
    """Per method, every distance above 0 and every kind pooled: mean, CI, items, seeds."""
    out = {}
    filler = preds[preds["distance"] > 0]
    for i, (method, g) in enumerate(filler.groupby("method", sort=True)):
        values = outcome_matrix(g, f"ProSG predictions, {method} with filler")
        mean, lo, hi = mean_ci(values, n_boot, np.random.default_rng([seed, 10**6 + i]))
        out[method] = {"mean": mean, "ci": [lo, hi], "n": values.shape[1], "seeds": values.shape[0]}
    return out
