"""Epoch selection shared by every trained recommender of this track (the T5 family in
train.py, SASRec in models/sasrec.py): validate every `eval_every` epochs and on the last,
keep a CPU copy of the weights of the epoch with the best validation HR@20 (first one on
ties), and record one curve row per epoch. One rule in one place, so the generative models
and their peers are selected the same way (papers.md: selection on validation HR@20)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

KEY = "hr@20"  # the selection metric


@dataclass
class EpochSelector:
    validate: Callable[[torch.nn.Module], dict[str, float]]
    epochs: int
    eval_every: int
    log: Callable[[dict, int], None] = lambda m, step: None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = -1
    best_value: float = -1.0
    curve: list[dict] = field(default_factory=list)

    def end_epoch(self, model: torch.nn.Module, epoch: int, train_loss: float) -> dict:
        """Record epoch `epoch` (0-based) and its mean training loss; validate when due and
        keep the weights if validation HR@20 improved. -> the curve row."""
        row = {"epoch": epoch, "train_loss": train_loss}
        if (epoch + 1) % self.eval_every == 0 or epoch == self.epochs - 1:
            row.update({f"valid_{k}": v for k, v in self.validate(model).items()})
            if row[f"valid_{KEY}"] > self.best_value:
                self.best_value, self.best_epoch = row[f"valid_{KEY}"], epoch
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.curve.append(row)
        self.log({k: v for k, v in row.items() if k != "epoch"}, epoch)
        return row


def series(row: dict[str, float]) -> dict[str, float]:
    """A curve row as MLflow series keys: ``train_loss`` -> ``train/loss``, ``valid_hr@20``
    -> ``valid/hr@20``. Why: these are per-epoch values on the selection users only; the
    reported all-user values go under ``final/`` (StageContext.log_final), so the latest
    point the UI shows under a key is never a subset value passed off as the result."""
    out = {}
    for key, value in row.items():
        if "/" in key:  # already a series key (train/step_loss)
            out[key] = value
        elif key == "train_loss":
            out["train/loss"] = value
        elif key.startswith("valid_"):
            out["valid/" + key[len("valid_"):]] = value
        else:
            out[f"train/{key}"] = value
    return out
