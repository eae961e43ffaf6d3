"""Learning rate and epochs chosen on validation data, the same way for every method.

Why one rule for all: a baseline tuned less than the method it is compared with makes the
comparison say more about tuning than about the method (issue 14). Every ALTER run,
full fine-tuning and adapters alike, therefore

- trains once per learning rate of ``lr_scales x`` its configured rate (``mta.search``),
  from the same initial weights and on the same batches,
- keeps, within each of those runs, the parameters of its best validation epoch
  (``train.Curves.keep_best``: the epochs are chosen, up to the configured number),
- keeps the learning rate whose best epoch scored highest on validation (ties: the
  earlier candidate in ``lr_scales``).

The search runs on the first training seed only; the later seeds train at the chosen rate
(their best epoch is still chosen per seed). Methods that train one model per task (stage 1,
single-task fine-tuning) choose per task on that task's validation rows (unit = the task);
the others choose one rate on the macro validation score (unit ``ALL``). Test rows are read
only after a unit's choice is made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta.train import Curves, Inputs, Schedule, TrainConfig, TrainLog, train

ALL = "all"  # the unit of a method that trains one model for every task


@dataclass(frozen=True)
class SearchConfig:
    lr_scales: tuple[float, ...] = (1.0,)  # multipliers of each method's configured lr, tried on the first seed

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_scales", tuple(float(s) for s in self.lr_scales))
        if not self.lr_scales or any(not s > 0 for s in self.lr_scales):
            raise LmreproError(f"mta search.lr_scales must be a non-empty list of numbers > 0, got {list(self.lr_scales)}")
        if len(set(self.lr_scales)) != len(self.lr_scales):
            raise LmreproError(f"mta search.lr_scales has repeats: {list(self.lr_scales)}")


@dataclass
class Choice:
    """What validation chose for one unit (a task, or ``ALL``) of one seed's run."""

    unit: str
    lr: float
    epoch: int  # 1-based best validation epoch of the chosen run
    epochs: int  # validation points of that run (= its epochs, rounded up)
    valid: float  # its best validation score
    candidates: dict[str, float] = field(default_factory=dict)  # {lr as text: best validation score}
    seconds: float = 0.0  # training time of every candidate (the search's cost; not in run records)

    def record(self) -> dict:
        """The reproducible part (no wall time), for run records."""
        out = asdict(self)
        del out["seconds"]
        return out


def lr_text(lr: float) -> str:
    return f"{lr:g}"


def candidates(base_lr: float, search: SearchConfig, units: list[str],
               chosen: dict[str, float] | None = None) -> dict[str, list[float]]:
    """{unit: learning rates to try}: the scaled grid for the first seed (``chosen`` None),
    else the rate each unit chose on the first seed."""
    if chosen is None:
        return {u: [base_lr * s for s in search.lr_scales] for u in units}
    missing = [u for u in units if u not in chosen]
    if missing:
        raise LmreproError(f"no learning rate was chosen for unit(s) {missing} on the first seed")
    return {u: [chosen[u]] for u in units}


def chosen_lrs(choices: list[Choice]) -> dict[str, float]:
    return {c.unit: c.lr for c in choices}


def fit(model: nn.Module, inputs: Inputs, labels, schedule: Schedule, names: list[str], cfg: TrainConfig,
        lrs: list[float], torch_seed: int, curves_for: Callable[[str], Curves], unit: str,
        progress=None, desc: str = "train") -> tuple[TrainLog, Choice]:
    """Train ``names`` of ``model`` once per rate in ``lrs`` (same start, same batches, same
    dropout draws) and leave the model at the best run's best epoch.

    ``curves_for(suffix)`` gives the curve logger of one candidate (suffix ``/lr<lr>`` when
    there are several, so each run's curve has its own MLflow key)."""
    if not lrs:
        raise LmreproError(f"{desc}: no learning rate to train with")
    params = dict(model.named_parameters())
    trained = [params[n] for n in names]
    start = [p.detach().clone() for p in trained] if len(lrs) > 1 else None
    best: tuple[float, float, TrainLog, list[torch.Tensor] | None] | None = None
    scores: dict[str, float] = {}
    seconds = 0.0
    for lr in lrs:
        if start is not None:
            with torch.no_grad():
                for p, saved in zip(trained, start):
                    p.copy_(saved)
        torch.manual_seed(torch_seed)
        curves = curves_for(f"/lr{lr_text(lr)}" if len(lrs) > 1 else "")
        if curves.validate is None:
            raise LmreproError(f"{desc}: choosing on validation needs a validate function")
        log = train(model, inputs, labels, schedule, names, replace(cfg, lr=lr), progress, desc,
                    replace(curves, keep_best=True))
        score = log.best_score
        scores[lr_text(lr)] = score
        seconds += log.seconds
        if best is None or score > best[0]:
            best = (score, lr, log, [p.detach().clone() for p in trained] if len(lrs) > 1 else None)
    score, lr, log, state = best
    if state is not None:
        with torch.no_grad():
            for p, saved in zip(trained, state):
                p.copy_(saved)
    choice = Choice(unit, lr, log.best_epoch, len(log.valid_scores), score, scores, seconds)
    return log, choice
