"""From predictions to the method x task table: scores per seed, then mean and std over
seeds (sample std, ddof=1), the macro average, and the cost columns (parameters, time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.mta.metrics import task_scores


def score(preds: pd.DataFrame) -> pd.DataFrame:
    """Predictions -> one row per (method, seed, task) with acc, mcc, f1 and score."""
    rows = []
    for (method, seed, task), g in preds.groupby(["method", "seed", "task"], sort=False):
        s = task_scores(task, g["label"].to_numpy(), g["pred"].to_numpy())
        rows.append({"method": method, "seed": int(seed), "task": task, "acc": s["acc"],
                     "mcc": s.get("mcc", np.nan), "f1": s.get("f1", np.nan), "score": s["score"]})
    return pd.DataFrame(rows)


def summarize(scores: pd.DataFrame, tasks: list[str]) -> dict:
    """{method: {task: {mean, std}, 'macro': {mean, std}, 'seeds': n}}; the macro average is
    computed per seed (mean over tasks), then mean and std over seeds."""
    out: dict = {}
    for method, g in scores.groupby("method", sort=False):
        missing = sorted(set(tasks) - set(g["task"]))
        if missing:
            raise LmreproError(f"predictions of method {method!r} lack task(s) {missing}")
        per_seed = g.pivot(index="seed", columns="task", values="score")[tasks]  # [seeds, tasks]
        entry = {t: _mean_std(per_seed[t].to_numpy()) for t in tasks}
        entry["macro"] = _mean_std(per_seed.mean(axis=1).to_numpy())
        if "msrp" in tasks:  # MSRP's headline is mean(F1, acc); keep both parts
            msrp = g[g["task"] == "msrp"]
            entry["msrp_f1"] = _mean_std(msrp["f1"].to_numpy())
            entry["msrp_acc"] = _mean_std(msrp["acc"].to_numpy())
        entry["seeds"] = int(len(per_seed))
        out[method] = entry
    return out


def _mean_std(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "std": std}


def paired_change(scores: pd.DataFrame, tasks: list[str], method: str, base: str) -> dict:
    """{task: {mean, std}, 'macro': {mean, std}} of ``method`` minus ``base`` per seed (both
    trained with the same seed on the same rows, so the difference is paired), then over seeds.
    Why paired: stage 2 starts from the very adapters ``base`` scores, so the seed-to-seed
    spread of the two moves together and their difference is what stage 2 changed."""
    per = {m: scores[scores["method"] == m].pivot(index="seed", columns="task", values="score")
           for m in (method, base)}
    for m, table in per.items():
        missing = sorted(set(tasks) - set(table.columns))
        if table.empty or missing:
            raise LmreproError(f"scores of method {m!r} lack task(s) {missing or tasks}")
    if sorted(per[method].index) != sorted(per[base].index):
        raise LmreproError(f"{method!r} has seeds {sorted(per[method].index)} but {base!r} has "
                           f"{sorted(per[base].index)}: a paired change needs the same seeds")
    diff = per[method][tasks] - per[base].loc[per[method].index, tasks]  # [seeds, tasks]
    out = {t: _mean_std(diff[t].to_numpy()) for t in tasks}
    out["macro"] = _mean_std(diff.mean(axis=1).to_numpy())
    return out
