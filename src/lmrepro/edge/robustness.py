"""Accuracy of a trained backbone-plus-adapters model when its backbone is stored in eNVM.

Conditions (one row per condition x seed x task):

- ``fp32``            the model as trained (reference).
- ``int8``            backbone matrices (embeddings and layer weights) as per-row int8.
- ``int8_pruned``     layer matrices magnitude-pruned to sparsity s, then int8; embeddings
                      are lookups and stay dense (the same split energy.py prices).
- ``int8_bit_errors`` int8 backbone with every stored bit flipped w.p. BER, per seed.

Only the backbone's stored matrices are perturbed: biases and LayerNorm vectors (<1% of
the backbone), quantization scales, adapters, gates and heads stay exact (they live in
SRAM). The model is restored to its trained weights afterwards.

The model and its predict function come from the ALTER track's bundle
(lmrepro.mta.export.load_bundle), or from any (module, backbone names, predict) triple.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch

from lmrepro.edge import compression as C
from lmrepro.errors import LmreproError


@dataclass(frozen=True)
class RobustnessConfig:
    """The grid of perturbations."""

    # 0 (reference), MLC RRAM 2 bits/cell ~1.5e-8, 3 bits/cell 1.5e-4..6.3e-3 (papers.md), and beyond
    bit_error_rates: tuple[float, ...] = (0.0, 1.5e-8, 1.5e-4, 1e-3, 6.3e-3, 1e-2)
    sparsities: tuple[float, ...] = (0.3, 0.5, 0.7)  # magnitude-pruning levels of the layer matrices
    seeds: tuple[int, ...] = (0, 1, 2)  # bit-error draws per rate
    max_per_task: int = 100  # test rows per task (CPU budget); 0 = all
    split: str = "test"


def _backbone_matrices(model: torch.nn.Module, names: list[str]) -> dict[str, torch.nn.Parameter]:
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise LmreproError(f"backbone names not in the model: {missing[:5]}")
    return {n: params[n] for n in names if params[n].dim() == 2}


def accuracy_by_task(pred: np.ndarray, df: pd.DataFrame) -> dict[str, float]:
    correct = pd.Series(np.asarray(pred) == df["label"].to_numpy(), index=df.index)
    return correct.groupby(df["task"].to_numpy()).mean().to_dict()


def eval_frame(tasks_df: pd.DataFrame, tasks: list[str], cfg: RobustnessConfig) -> pd.DataFrame:
    """The evaluation rows: the model's tasks, the configured split, a fixed random max_per_task each."""
    df = tasks_df[(tasks_df["split"] == cfg.split) & tasks_df["task"].isin(tasks)]
    missing = sorted(set(tasks) - set(df["task"]))
    if missing:
        raise LmreproError(f"NLU table has no {cfg.split!r} rows for task(s) {missing}")
    if cfg.max_per_task:  # a fixed random subset per task (files may be sorted by label)
        df = df.sample(frac=1.0, random_state=0).groupby("task", sort=False).head(cfg.max_per_task)
        df = df.sort_index()
    return df.reset_index(drop=True)


def sweep(
    model: torch.nn.Module,
    backbone_names: list[str],
    predict: Callable[[pd.DataFrame], np.ndarray],
    df: pd.DataFrame,
    cfg: RobustnessConfig,
    progress: Callable = lambda it, **kw: it,
) -> pd.DataFrame:
    """Run every condition; returns the long table (schemas.Robustness)."""
    mats = _backbone_matrices(model, backbone_names)
    if not mats:
        raise LmreproError("the backbone has no weight matrices to store")
    originals = {n: p.detach().clone() for n, p in mats.items()}
    prunable = [n for n in mats if "embeddings" not in n]
    quant = {n: C.quantize_rows(originals[n].float().numpy()) for n in mats}
    n_stored = sum(q.size for q, _ in quant.values())
    rows: list[dict] = []

    def load(arrays: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for n, a in arrays.items():
                mats[n].copy_(torch.from_numpy(a).to(mats[n].dtype))

    def record(condition, sparsity, ber, seed, flips, bits):
        for task, acc in accuracy_by_task(predict(df), df).items():
            rows.append(dict(condition=condition, sparsity=sparsity, bit_error_rate=ber, seed=seed, task=task,
                             metric="accuracy", value=float(acc), flipped_bits=flips, stored_backbone_bits=bits))

    plan = [("fp32", 0.0, 0.0, 0), ("int8", 0.0, 0.0, 0)]
    plan += [("int8_pruned", s, 0.0, 0) for s in cfg.sparsities]
    plan += [("int8_bit_errors", 0.0, p, seed) for p in cfg.bit_error_rates for seed in cfg.seeds]
    try:
        for condition, s, ber, seed in progress(plan, desc="robustness", total=len(plan)):
            if condition == "fp32":
                load({n: t.numpy() for n, t in originals.items()})
                record(condition, s, ber, seed, 0, 0)
            elif condition == "int8":
                load({n: C.dequantize_rows(q, sc) for n, (q, sc) in quant.items()})
                record(condition, s, ber, seed, 0, n_stored * 8)
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
                int8_rows = [r for r in rows if r["condition"] == "int8"]
                rows += [{**r, "condition": condition, "seed": seed} for r in int8_rows]
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
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Macro accuracy over tasks per condition and point: mean and std over seeds."""
    macro = results.groupby(["condition", "sparsity", "bit_error_rate", "seed"], as_index=False)["value"].mean()
    out = macro.groupby(["condition", "sparsity", "bit_error_rate"], as_index=False)["value"].agg(
        mean="mean", std="std", n_seeds="count"
    )
    out["std"] = out["std"].fillna(0.0)
    return out
