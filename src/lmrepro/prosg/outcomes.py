"""Per-item test outcomes of the ProSG methods, for the claims registry
(workflow/claims/prosg.yaml).

An arm selects a method and a distance: an integer, ``nearest`` / ``farthest`` (the
smallest / largest distance of this profile) or ``filler`` (every distance above 0,
pooled). The unit is the test item, matched across arms by (distance, kind, index): two
methods at one distance answer the very same items (truly paired); the same method at two
distances answers different items of the same kind and index (independent pairs, for
which the pair bootstrap still estimates the variance of the difference correctly).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lmrepro.claims.loading import Loader, cached_reader, outcomes_from_series
from lmrepro.claims.stats import Outcomes
from lmrepro.errors import LmreproError
from lmrepro.prosg.schemas import ProsgPredictions

PREDS = Path("data") / "prosg" / "preds.parquet"


def _distances(df: pd.DataFrame, spec) -> list[int]:
    present = sorted(df["distance"].unique())
    if spec == "nearest":
        return present[:1]
    if spec == "farthest":
        return present[-1:]
    if spec == "filler":
        return [d for d in present if d > 0]
    if int(spec) not in present:
        raise LmreproError(f"ProSG arm asks for distance {spec}, the predictions have {present}")
    return [int(spec)]


def loader(root: Path) -> Loader:
    read = cached_reader(root / PREDS, ProsgPredictions)

    def load(select: dict, metric: str) -> Outcomes:
        if metric != "exact_match":
            raise LmreproError(f"ProSG claims support metric 'exact_match', not {metric!r}")
        df = read()
        rows = df[(df["method"] == select["method"]) & df["distance"].isin(_distances(df, select["distance"]))]
        if rows.empty:
            raise LmreproError(f"{root / PREDS}: no predictions for ProSG arm {select} (per-unit outcomes not found)")
        index = rows["uid"].str.rsplit("-", n=1).str[-1].astype(int)
        # distance is part of the unit only when the arm pools several; across distances,
        # items are matched by (kind, index)
        pooled = len(rows["distance"].unique()) > 1
        keys = [rows["distance"]] if pooled else []
        mi = pd.MultiIndex.from_arrays([rows["seed"], *keys, rows["kind"], index],
                                       names=["seed", *(["distance"] if pooled else []), "kind", "index"])
        series = pd.Series(rows["correct"].to_numpy(float), index=mi)
        return outcomes_from_series(series, f"ProSG arm {select}", seed_level="seed")

    return load
