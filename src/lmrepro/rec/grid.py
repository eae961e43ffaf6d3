"""Which rec training runs a profile trains (params rec.grid).

The full product of indexings x models x settings costs ~25 runs; on all Beauty users that
is far beyond the default profile's CPU budget, so the default lists the runs its claims
need as blocks, and the paper profile (empty grid) keeps the full product. One function,
shared by the Snakefile and its tests, so the DAG and the registry cannot drift apart."""

from __future__ import annotations

from itertools import product


def train_runs(rec: dict) -> list[str]:
    """'{dataset}-{method}-{model}-{setting}' of every training run, in block order without
    repeats: the union of the rec.grid blocks, or with an empty grid the full product
    (indexings, and the ablations with ablation_models, x models x settings)."""
    blocks = rec["grid"] or [
        {"methods": rec["indexings"], "models": rec["models"], "settings": rec["settings"]},
        {"methods": rec["ablations"], "models": rec["ablation_models"], "settings": rec["settings"]},
    ]
    runs: list[str] = []
    for b in blocks:
        for dataset, method, model, setting in product(rec["datasets"], b["methods"], b["models"], b["settings"]):
            run = f"{dataset}-{method}-{model}-{setting}"
            if run not in runs:
                runs.append(run)
    return runs
