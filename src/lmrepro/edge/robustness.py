"""Accuracy of a trained backbone-plus-adapters model when its backbone is stored in eNVM.

Conditions (every one evaluated on the SAME rows, so outcomes are paired row by row):

- ``fp32``            the model as trained (reference).
- ``int8``            backbone matrices (embeddings and layer weights) as per-row int8.
- ``int8_pruned``     layer matrices magnitude-pruned to sparsity s, then int8; embeddings
                      are lookups and stay dense (the same split energy.py prices).
- ``int8_bit_errors`` int8 backbone with every stored bit flipped w.p. BER, per seed.

Only the backbone's stored matrices are perturbed: biases and LayerNorm vectors (<1% of
the backbone), quantization scales, adapters, gates and heads stay exact (they live in
SRAM). The model is restored to its trained weights afterwards.

The sweep returns three things: the per-row predictions (one row per condition, rate,
seed, task and test row: what paired tests need), the accuracy per (condition, point,
seed, task) derived from them, and the wall seconds of each condition's forward passes.
The seconds go to a separate timing file: every other output is a deterministic function
of the commit, params and thread count.

The model and its predict function come from the ALTER track's bundle
(lmrepro.mta.export.load_bundle), or from any (module, backbone names, predict) triple.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch

from lmrepro.edge import compression as C
from lmrepro.errors import LmreproError

POINT = ["condition", "sparsity", "bit_error_rate", "seed"]


@dataclass(frozen=True)
class RobustnessConfig:
    """The grid of perturbations and the evaluation rows."""

    # 0 (reference), MLC RRAM 2 bits/cell ~1.5e-8, 3 bits/cell 1.5e-4..6.3e-3 (papers.md), and beyond
    bit_error_rates: tuple[float, ...] = (0.0, 1.5e-8, 1.5e-4, 1e-3, 6.3e-3, 1e-2)
    sparsities: tuple[float, ...] = (0.3, 0.5, 0.7)  # magnitude-pruning levels of the layer matrices
    seeds: tuple[int, ...] = (0, 1, 2)  # bit-error draws per rate
    max_per_task: int = 0  # test rows per task, the same for every condition; 0 = the full split
    sample_seed: int = 0  # which rows: a seeded uniform sample of each task's split
    split: str = "test"
    batch_size: int = 32  # rows per forward pass (measured fastest on CPU for the MTA bundle)


@dataclass
class SweepResult:
    """Per-row predictions, accuracy table and forward-pass seconds per condition point."""

    predictions: pd.DataFrame  # schemas.RobustnessPredictions
    accuracy: pd.DataFrame  # schemas.Robustness
    seconds: dict[str, float] = field(default_factory=dict)  # point key -> wall seconds (timing file only)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # point key -> process CPU seconds (idem)


def point_key(condition: str, sparsity: float, ber: float, seed: int) -> str:
    return f"{condition}|s={sparsity:g}|ber={ber:g}|seed={seed}"


def _backbone_matrices(model: torch.nn.Module, names: list[str]) -> dict[str, torch.nn.Parameter]:
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise LmreproError(f"backbone names not in the model: {missing[:5]}")
    return {n: params[n] for n in names if params[n].dim() == 2}


def eval_frame(tasks_df: pd.DataFrame, tasks: list[str], cfg: RobustnessConfig) -> pd.DataFrame:
    """The evaluation rows: the model's tasks, the configured split, a seeded sample of
    ``max_per_task`` rows per task (all rows when 0 or when the split is smaller).

    Adds ``row``: the example's position within its task's split in the NLU table, so a row
    names the same example in every condition and every run. Ordered by (task, row)."""
    if cfg.max_per_task < 0:
        raise LmreproError(f"edge.robustness.max_per_task must be >= 0, got {cfg.max_per_task}")
    df = tasks_df[(tasks_df["split"] == cfg.split) & tasks_df["task"].isin(tasks)].copy()
    missing = sorted(set(tasks) - set(df["task"]))
    if missing:
        raise LmreproError(f"NLU table has no {cfg.split!r} rows for task(s) {missing}")
    df["row"] = df.groupby("task", sort=False).cumcount()
    if cfg.max_per_task:  # a seeded uniform subset per task (files may be sorted by label)
        parts = []
        for task in sorted(set(df["task"])):  # per-task stream: a task's rows do not depend on the others
            g = df[df["task"] == task]
            rng = np.random.RandomState([cfg.sample_seed, zlib.crc32(task.encode())])
            parts.append(g.sample(n=min(cfg.max_per_task, len(g)), random_state=rng))
        df = pd.concat(parts)
    return df.sort_values(["task", "row"], kind="stable").reset_index(drop=True)


def length_order(tasks: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Row order for the forward passes: by task, then by input length (stable).

    A batch is padded to its longest row, so rows of like length in one batch cut the padded
    tokens; on the default test splits this cut the forward cost ~1.7x (measured on the MTA
    bundle: 11.0 vs 18.4 CPU-s for the same 1,800 rows at batch 32 and 64)."""
    if len(tasks) != len(lengths):
        raise LmreproError(f"length_order: {len(tasks)} tasks but {len(lengths)} lengths")
    return np.lexsort((np.arange(len(tasks)), lengths, tasks))


def sweep(
    model: torch.nn.Module,
    backbone_names: list[str],
    predict: Callable[[pd.DataFrame], np.ndarray],
    df: pd.DataFrame,
    cfg: RobustnessConfig,
    progress: Callable = lambda it, **kw: it,
    order: np.ndarray | None = None,
) -> SweepResult:
    """Run every condition on the rows of ``df`` (columns task, row, label, inputs of predict).

    ``order`` (a permutation of df's positions, e.g. from :func:`length_order`) is the order
    in which rows are passed to ``predict``; it changes speed only: predictions come back in
    df's order."""
    for col in ("task", "row", "label"):
        if col not in df.columns:
            raise LmreproError(f"robustness sweep: evaluation frame lacks column {col!r} (use eval_frame)")
    order = np.arange(len(df)) if order is None else np.asarray(order)
    if not np.array_equal(np.sort(order), np.arange(len(df))):
        raise LmreproError("robustness sweep: order is not a permutation of the evaluation rows")
    ordered = df.iloc[order].reset_index(drop=True)
    mats = _backbone_matrices(model, backbone_names)
    if not mats:
        raise LmreproError("the backbone has no weight matrices to store")
    originals = {n: p.detach().clone() for n, p in mats.items()}
    prunable = [n for n in mats if "embeddings" not in n]
    quant = {n: C.quantize_rows(originals[n].float().numpy()) for n in mats}
    n_stored = sum(q.size for q, _ in quant.values())
    labels = df["label"].to_numpy().astype(np.int64)
    preds: list[pd.DataFrame] = []
    stats: list[dict] = []
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}

    def load(arrays: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for n, a in arrays.items():
                mats[n].copy_(torch.from_numpy(a).to(mats[n].dtype))

    def record(condition, sparsity, ber, seed, flips, bits, pred=None):
        key = point_key(condition, sparsity, ber, seed)
        if pred is None:
            start, cpu = time.perf_counter(), time.process_time()
            pred = np.empty(len(df), dtype=np.int64)
            pred[order] = np.asarray(predict(ordered), dtype=np.int64)
            seconds[key] = time.perf_counter() - start
            cpu_seconds[key] = time.process_time() - cpu
        preds.append(pd.DataFrame({"condition": condition, "sparsity": sparsity, "bit_error_rate": ber,
                                   "seed": seed, "task": df["task"].to_numpy(), "row": df["row"].to_numpy(),
                                   "pred": pred, "label": labels, "correct": pred == labels}))
        stats.append(dict(condition=condition, sparsity=sparsity, bit_error_rate=ber, seed=seed,
                          flipped_bits=flips, stored_backbone_bits=bits))
        return pred

    plan = [("fp32", 0.0, 0.0, 0), ("int8", 0.0, 0.0, 0)]
    plan += [("int8_pruned", s, 0.0, 0) for s in cfg.sparsities]
    plan += [("int8_bit_errors", 0.0, p, seed) for p in cfg.bit_error_rates for seed in cfg.seeds]
    int8_pred = None
    try:
        for condition, s, ber, seed in progress(plan, desc="robustness", total=len(plan)):
            if condition == "fp32":
                load({n: t.numpy() for n, t in originals.items()})
                record(condition, s, ber, seed, 0, 0)
            elif condition == "int8":
                load({n: C.dequantize_rows(q, sc) for n, (q, sc) in quant.items()})
                int8_pred = record(condition, s, ber, seed, 0, n_stored * 8)
            elif condition == "int8_pruned":
                arrays, bits = {}, 0
                for n, (q, sc) in quant.items():
                    if n in prunable:
                        pr = C.prune_magnitude(originals[n].float().numpy(), s)
                        qp, scp = C.quantize_rows(pr)
                        arrays[n] = C.dequantize_rows(qp, scp)
                        bits += qp.size + 8 * int(np.count_nonzero(qp))  # bitmask + surviving codes
                    else:
                        arrays[n] = C.dequantize_rows(q, sc)
                        bits += 8 * q.size
                load(arrays)
                record(condition, s, ber, seed, 0, bits)
            elif ber == 0.0:  # no flips: exactly the int8 model, whatever the seed (saves forward passes)
                record(condition, s, ber, seed, 0, n_stored * 8, pred=int8_pred)
            else:
                rng = np.random.default_rng([seed, int(round(ber * 1e12))])
                arrays, flips = {}, 0
                for n in sorted(quant):  # fixed order: same seed, same flips
                    q, sc = quant[n]
                    qf, k = C.flip_bits(q, ber, rng)
                    arrays[n] = C.dequantize_rows(qf, sc)
                    flips += k
                load(arrays)
                record(condition, s, ber, seed, flips, n_stored * 8)
    finally:
        with torch.no_grad():
            for n, t in originals.items():
                mats[n].copy_(t)
    predictions = pd.concat(preds, ignore_index=True)
    return SweepResult(predictions, accuracy_table(predictions, pd.DataFrame(stats)), seconds, cpu_seconds)


def accuracy_table(predictions: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per (condition, sparsity, rate, seed, task) from the per-row outcomes, with
    the point's flipped and stored bit counts (``stats``: one row per point)."""
    acc = (predictions.groupby([*POINT, "task"], sort=False)["correct"].mean().rename("value").reset_index())
    acc["value"] = acc["value"].astype(float)
    acc.insert(5, "metric", "accuracy")
    return acc.merge(stats, on=POINT, how="left", validate="many_to_one")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Macro accuracy over tasks per condition and point: mean and std over seeds."""
    macro = results.groupby(["condition", "sparsity", "bit_error_rate", "seed"], as_index=False)["value"].mean()
    out = macro.groupby(["condition", "sparsity", "bit_error_rate"], as_index=False)["value"].agg(
        mean="mean", std="std", n_seeds="count"
    )
    out["std"] = out["std"].fillna(0.0)
    return out
