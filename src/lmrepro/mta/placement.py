"""Adapter placement chosen on validation: the per-task adapters of stage 1 in the top 1, 2
or 3 blocks (``mta.placement.candidates``), each trained on the first seed at the stage-1
learning rate with its best validation epoch, compared by macro validation score.

Why stage 1: it is where the adapters learn their tasks, and every adapter method shares its
placement (stage 2, the neutral-gate ablation and AdapterFusion reuse its adapters).
Why a cache per candidate: with k adapted blocks, everything below block L-k is frozen and
cached once (features.compute_features, train and valid rows only: the search reads no test
row); a single cache at the lowest candidate would make the top-1 run pay for frozen blocks
it does not adapt.

The record says which placement validation chose and which one the method comparison used
(``mta.mixture.blocks``: a number, or ``chosen`` for the validation choice, which every
adapter stage then reads from this record); the report states both, and when they differ,
that the comparison did not use the validation choice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta import methods
from lmrepro.mta.data import Encoded
from lmrepro.mta.features import compute_features
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.train import Inputs, TrainConfig


@dataclass(frozen=True)
class PlacementConfig:
    candidates: tuple[int, ...] = (1,)  # adapted top blocks to try

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(int(k) for k in self.candidates))
        if not self.candidates or min(self.candidates) < 1 or len(set(self.candidates)) != len(self.candidates):
            raise LmreproError(f"mta placement.candidates must be distinct block counts >= 1, got {list(self.candidates)}")


def choose(valid: dict[int, float]) -> int:
    """The candidate with the best macro validation score; ties go to fewer blocks (cheaper)."""
    if not valid:
        raise LmreproError("no placement candidate was trained")
    best = None
    for k in sorted(valid):
        if best is None or valid[k] > valid[best]:
            best = k
    return best


CHOSEN = "chosen"  # mta.mixture.blocks value: train the comparison at the placement validation chose


def chosen_blocks(record: dict, where: str) -> int:
    """The placement a record of :func:`search` chose, checked: a candidate that was trained."""
    try:
        chosen = int(record["chosen"])
        trained = {int(k) for k in record["candidates"]}
    except (KeyError, TypeError, ValueError) as err:
        raise LmreproError(f"{where}: not a placement record (needs 'chosen' and 'candidates'): {err}") from err
    if chosen not in trained:
        raise LmreproError(f"{where}: chosen placement {chosen} is not among the trained candidates {sorted(trained)}")
    return chosen


def search(encoder: nn.Module, encoded: Encoded, data: methods.Task, mix: MixtureConfig, cfg: TrainConfig,
           seed: int, candidates: tuple[int, ...], progress=None, log=None, timing=None,
           cpu_bf16: bool = False) -> dict:
    """Train stage 1 at every candidate placement; returns the placement record (no test row is read)."""
    n_blocks = len(encoder.encoder.layer)
    too_deep = [k for k in candidates if k > n_blocks]
    if too_deep:
        raise LmreproError(f"mta placement.candidates {too_deep} exceed the backbone's {n_blocks} blocks")
    rows = np.concatenate([r for split in ("train", "valid") for r in data.splits[split].values()])
    record = {"seed": int(seed), "lr": float(cfg.lr), "candidates": {}}
    for k in sorted(candidates):
        mix_k = replace(mix, blocks=k)
        probe = MtaClassifier(encoder, {next(iter(data.n_labels)): 2}, mix_k, "none")
        inputs = Inputs(encoded, compute_features(probe, encoded, key=f"placement-top{k}", rows=rows,
                                                  progress=progress), cpu_bf16=cpu_bf16)
        step_log = None if log is None else (lambda m, s, _k=k: log({f"{key}/top{_k}": v for key, v in m.items()}, s))
        result = methods.stage1(encoder, data, inputs, mix_k, cfg, seed, progress, step_log, predict_test=False)
        record["candidates"][str(k)] = {
            "valid": float(result.valid_score),
            "per_task": {c.unit: float(c.valid) for c in result.choices},
            "epochs": {c.unit: int(c.epoch) for c in result.choices},
            "trainable": int(result.trainable),
        }
        if timing is not None:
            timing.add(seed, f"top{k}", result.seconds)
        del inputs
    record["chosen"] = choose({int(k): v["valid"] for k, v in record["candidates"].items()})
    return record


def describe(record: dict, used: int, full_ft_valid: float | None = None) -> str:
    """One markdown paragraph: each candidate's validation score, the choice, what the comparison used.

    ``full_ft_valid``: multi-task full fine-tuning's macro validation score on the same seed
    (its chosen rate and best epoch); when the comparison does not use the preferred placement
    it says how much of the adapters' validation gap to that baseline the placement closes, so
    that a reader can weigh claim 1 at the placement the table did not run."""
    cands = ", ".join(f"top {k} {100 * v['valid']:.1f}" for k, v in sorted(record["candidates"].items(),
                                                                         key=lambda kv: int(kv[0])))
    chosen = int(record["chosen"])
    text = (f"Adapter placement on validation (stage-1 adapters in the top k blocks, seed {record['seed']}, lr "
            f"{record['lr']:g}, best epoch; macro validation score x100): {cands}. Validation chooses the top "
            f"{chosen} block(s); the comparison above uses the top {used} (mta.mixture.blocks).")
    if chosen == used and record.get("blocks_setting") == CHOSEN:
        text += " The comparison trains at the validation choice (mta.mixture.blocks: chosen)."
    if chosen != used:
        gain = 100 * (record["candidates"][str(chosen)]["valid"] - record["candidates"][str(used)]["valid"]) \
            if str(used) in record["candidates"] else None
        text += (" So the table's adapter methods do not use the placement validation prefers"
                 + (f" ({gain:+.1f} validation points)" if gain is not None else "")
                 + ": with more adapted blocks every adapter step runs those blocks forward and backward, which "
                   "this profile's time budget does not cover (README, wall times); the comparison at the chosen "
                   "placement is a rerun with mta.mixture.blocks: chosen, as the paper profile sets.")
        if full_ft_valid is not None and str(used) in record["candidates"]:
            best, ours = (100 * record["candidates"][str(k)]["valid"] for k in (chosen, used))
            ft = 100 * full_ft_valid
            text += (f" For scale: multi-task full fine-tuning scores {ft:.1f} on the same validation rows (seed "
                     f"{record['seed']}); the preferred placement moves the stage-1 adapters from {ours:.1f} to "
                     f"{best:.1f}, " + ("still below it." if best < ft else "level with or above it."))
    return text
