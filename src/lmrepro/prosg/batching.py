"""Training batches of one filler distance each.

Why: RWKV's CPU recurrence runs once per token, so a step costs the longest sequence in its
batch. Mixed batches almost always hold a 256-word example and pay for it; batches of one
distance pad to their own length, so a step costs the mean length over the range, not the
maximum (measured on the long base's continuation: ~0.43 vs ~2.0 CPU-s per step). Drawing
the distance uniformly keeps every distance practised equally often, as uniform row sampling
did (the set has the same number of rows at every distance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def distance_pools(examples: pd.DataFrame, batch: int, what: str) -> dict[int, pd.DataFrame]:
    """Rows per distance (ascending); each pool must fill a batch of ``batch`` (``what`` names
    the batch-size key in errors)."""
    pools = {int(d): g for d, g in examples.groupby("distance", sort=True)}
    if not pools:
        raise ValueError(f"{what}: no training rows to draw batches from")
    small = {d: len(g) for d, g in pools.items() if len(g) < batch}
    if small:
        raise ValueError(f"{what} {batch} exceeds the training rows at distances {small}")
    return pools


def draw_batch(pools: dict[int, pd.DataFrame], batch: int, rng: np.random.Generator) -> tuple[int, pd.DataFrame]:
    """A distance drawn uniformly, then ``batch`` of its rows without replacement."""
    distances = list(pools)
    distance = distances[int(rng.integers(len(distances)))]
    pool = pools[distance]
    return distance, pool.iloc[rng.choice(len(pool), size=batch, replace=False)]
