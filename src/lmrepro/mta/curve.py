"""Learning curve of the cheap (cached-feature) methods: per-task adapters (stage 1) and
MTA (stage 1 + stage 2) trained on the n rows of lowest rank of every task's training split,
for each n of ``mta.data.curve``, scored on the full test split.

Why: at a small n adapting the top block of a frozen encoder underfits; the curve shows
where the adapter methods stop underfitting, while the method comparison itself stays on
the ``n_train`` rows every method (full fine-tuning included) can afford. The sizes are
nested (data.select_examples ``rank``), so each point adds rows to the previous one.

Stage 2 continues the in-memory stage-1 model of the same seed and size (the mta_stage2
stage reloads it from disk instead), so the curve's point at n = n_train is the same
recipe as the table's but not bit-identical to it.

The full-data point (``mta.curve.full``, n_train = ``FULL``): every training row of every
task. The shared feature cache holds only the comparison's rows (~1.7 GB); a cache of all
~56k training rows would be ~4.8 GB on disk and loaded by every adapter stage, so this
point draws its own subsample table (the same valid and test rows: the draws are seeded per
split) and computes its own in-memory cache (``full_point``).

File (Parquet, ``CurveScores``): one row per (method, n_train, seed, task): the headline
score on the test split and the number of training rows the task actually had (a task
smaller than n trains on all it has).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.mta import methods
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.features import compute_features
from lmrepro.mta.metrics import task_scores
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.selection import ALL, SearchConfig, candidates, chosen_lrs
from lmrepro.mta.train import Inputs, TrainConfig

CURVE_METHODS = ("adapters", "mta")  # the two stages of MTA; both on cached features
FULL = 1_000_000  # n_train of the full-data point: above every task's training split


def first_seeds(seeds: list[int], k: int) -> list[int]:
    """The first ``k`` training seeds (mta.curve.seeds): the curve's full-data points cost as
    much as a whole adapter method, so fewer seeds keep it in the budget."""
    if not 1 <= k <= len(seeds):
        raise LmreproError(f"mta.curve.seeds must be between 1 and len(mta.seeds) = {len(seeds)}, got {k}")
    return list(seeds[:k])


def scores_of(method: str, size: int, seed: int, result: methods.MethodResult, data: methods.Task,
              train_rows: dict[str, np.ndarray]) -> list[dict]:
    """One row per task: the headline test score of ``result``'s predictions."""
    test = data.splits["test"]
    return [{"method": method, "n_train": int(size), "seed": int(seed), "task": t,
             "rows": int(len(train_rows[t])), "score": task_scores(t, data.labels[test[t]], result.preds[t])["score"]}
            for t in data.n_labels]


def run(encoder, examples: pd.DataFrame, inputs: Inputs, mix: MixtureConfig, stage1: TrainConfig,
        stage2: methods.Stage2Config, sizes: tuple[int, ...], seeds: list[int], progress=None,
        log=None, search: SearchConfig | None = None) -> pd.DataFrame:
    """Train and score both stages for every (size, seed); test rows are read only after
    each model has finished training and choosing (methods.stage1 / methods.stage2 predict
    last). Learning rates and epochs are chosen on validation as in the comparison
    (selection.py), the grid searched on the first seed of each size."""
    search = search or SearchConfig()
    if not sizes:
        raise LmreproError("mta data.curve is empty: no learning-curve sizes to run")
    rows = []
    for size in sizes:
        data = methods.Task.from_examples(examples, size)
        train_rows = data.splits["train"]
        chosen1 = chosen2 = None
        for seed in seeds:
            step_log = None if log is None else (lambda m, s, _n=size, _s=seed: log(
                {f"{k}/n{_n}/seed{_s}": v for k, v in m.items()}, s))
            first = methods.stage1(encoder, data, inputs, mix, stage1, seed, progress, step_log,
                                   candidates(stage1.lr, search, list(data.n_labels), chosen1))
            rows += scores_of("adapters", size, seed, first, data, train_rows)
            second = methods.stage2(first.model, data, inputs, stage2, seed, progress, step_log,
                                    candidates(stage2.lr, search, [ALL], chosen2))
            chosen1 = chosen1 or chosen_lrs(first.choices)
            chosen2 = chosen2 or chosen_lrs(second.choices)
            rows += scores_of("mta", size, seed, second, data, train_rows)
    return pd.DataFrame(rows)


def full_point(encoder, tokenizer, table: pd.DataFrame, data_cfg: DataConfig, mix: MixtureConfig,
               cpu_bf16: bool = False, progress=None) -> tuple[pd.DataFrame, Inputs]:
    """Examples with every training row (same valid and test rows as ``data_cfg``'s table)
    and their in-memory feature cache, for ``run(..., sizes=(FULL,))``."""
    cfg = DataConfig(**{**data_cfg.__dict__, "n_train": FULL, "curve": ()})
    examples = select_examples(table, cfg, where="NLU table (curve, full training splits)")
    encoded = encode(examples, tokenizer, cfg.max_len)
    probe = MtaClassifier(encoder, {str(examples["task"].iloc[0]): 2}, mix, "none")
    features = compute_features(probe, encoded, key="curve-full", progress=progress)
    return examples, Inputs(encoded, features, cpu_bf16=cpu_bf16)


def summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Macro score (mean over tasks, per seed), then mean and sample std over seeds, per
    (method, n_train); also the mean training rows per task actually used."""
    per_seed = scores.groupby(["method", "n_train", "seed"], sort=True).agg(macro=("score", "mean"),
                                                                            rows=("rows", "mean"))
    out = per_seed.groupby(["method", "n_train"]).agg(mean=("macro", "mean"), std=("macro", "std"),
                                                      rows=("rows", "mean"), seeds=("macro", "size"))
    out["std"] = out["std"].fillna(0.0)
    return out.reset_index()


def render_figure(scores: pd.DataFrame, path: Path) -> None:
    """Macro test score (x100) against the mean training rows per task (log axis), mean and
    sample std over seeds, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmrepro import io

    table = summary(scores)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for method, g in table.groupby("method", sort=False):
        g = g.sort_values("rows")
        ax.errorbar(g["rows"], 100 * g["mean"], yerr=100 * g["std"], marker="o", capsize=3,
                    label=methods.LABELS.get(method, method))
    ax.set_xscale("log")
    ticks = sorted(set(table["rows"].round().astype(int)))
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("training rows per task (mean over tasks; log scale)")
    ax.set_ylabel("macro test score (x100)")
    ax.set_title("ALTER: learning curve of the cached-feature methods")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
