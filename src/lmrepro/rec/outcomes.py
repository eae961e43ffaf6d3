"""Per-user test outcomes of the rec runs, for the claims registry (workflow/claims/lightlm.yaml).

An arm selects runs by dataset, method (indexing), model and setting, or by peer
(mostpop, sasrec); a list averages those runs per user. The unit is the user: every run
of one dataset is evaluated on the same users, so arms pair by user id.
"""

from __future__ import annotations

from pathlib import Path

from lmrepro.claims.loading import Loader, expand, mean_of_runs, outcomes_from_series, read_outcomes
from lmrepro.claims.stats import Outcomes
from lmrepro.errors import LmreproError
from lmrepro.rec.schemas import UserMetrics

EVAL_DIR = Path("data") / "rec" / "eval"


def per_user_path(root: Path, run: dict) -> Path:
    base = root / EVAL_DIR / run["dataset"]
    if "peer" in run:
        return base / f"peer-{run['peer']}.parquet"
    return base / f"{run['method']}-{run['model']}-{run['setting']}.parquet"


def loader(root: Path) -> Loader:
    def load(select: dict, metric: str) -> Outcomes:
        frames = []
        for run in expand(select):
            path = per_user_path(root, run)
            df = read_outcomes(path, UserMetrics)
            test = df[df["split"] == "test"]
            if metric not in test.columns:
                raise LmreproError(f"{path}: no column {metric!r} (claims registry metric)")
            frames.append(test.set_index("user")[metric].sort_index())
        return outcomes_from_series(mean_of_runs(frames, f"rec arm {select}"), f"rec arm {select}")

    return load
