"""Per-example test outcomes of the ALTER methods, for the claims registry
(workflow/claims/alter.yaml).

An arm selects a method (a list averages methods per example). The unit is the test
example (task, row), the strata are the tasks (the statistic is the macro average over
tasks, as the paper's table), and the training seeds are a second resampling level:
every method is trained with the same seeds and scored on the same rows, so arms pair by
(seed, task, row).

Metric ``accuracy``: 1 when the prediction equals the label. The paper's macro score uses
MCC for CoLA and F1 for MSRP; those are not means over examples, so the claims use
per-example accuracy for every task (stated in the registry).
"""

from __future__ import annotations

from pathlib import Path

from lmrepro.claims.loading import Loader, as_list, mean_of_runs, outcomes_from_series, read_outcomes
from lmrepro.claims.stats import Outcomes
from lmrepro.errors import LmreproError
from lmrepro.mta.schemas import Predictions

PREDS_DIR = Path("data") / "mta" / "preds"


def loader(root: Path) -> Loader:
    def load(select: dict, metric: str) -> Outcomes:
        if metric != "accuracy":
            raise LmreproError(f"ALTER claims support metric 'accuracy', not {metric!r}")
        frames = []
        for method in as_list(select["method"]):
            path = root / PREDS_DIR / f"{method}.parquet"
            df = read_outcomes(path, Predictions)
            df = df[df["method"] == method] if (df["method"] == method).any() else df
            correct = (df["pred"] == df["label"]).astype(float)
            frames.append(correct.set_axis(df.set_index(["seed", "task", "row"]).index).sort_index())
        series = mean_of_runs(frames, f"ALTER arm {select}")
        return outcomes_from_series(series, f"ALTER arm {select}", strata_level="task", seed_level="seed")

    return load
