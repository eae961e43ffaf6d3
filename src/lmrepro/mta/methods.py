"""The compared methods. Each builds a model, picks what trains and in which batch order,
trains with train.train and predicts every task's test rows.

MTA (two stages, papers.md section 2):
  stage 1  each task's own adapter + head on its own task (routing 'own'), backbone frozen;
  stage 2  gates + shared adapters (+ heads if ``train_heads``) jointly on all tasks with
           task-balanced sampling; task adapters and backbone frozen.
Baselines: per-task adapters alone (= stage 1), single-task full fine-tuning, multi-task
full fine-tuning (shared backbone, per-task heads), one shared adapter for all tasks, MTA
trained in one joint stage, AdapterFusion on the stage-1 adapters.
Adapter methods read cached lower-block features; full fine-tuning cannot (it trains them).

Splits: every method trains on ``train``, chooses its learning rate and epoch on ``valid``
(selection.fit: the same rule for every method) and predicts ``test`` only after its
training and choice have ended. Rows are asked for by split name (``Task.rows``), which
records each request so tests can audit what was read.

Learning rates: every training function takes ``lrs``, {unit: rates to try}, where a unit
is a task (stage 1, single-task fine-tuning: one model or adapter per task) or
``selection.ALL``; ``selection.candidates`` builds it (the grid on the first seed, the
chosen rate on the later ones).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta.data import SPLITS, n_labels, task_rows
from lmrepro.mta.metrics import task_scores
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.selection import ALL, Choice, fit
from lmrepro.mta.train import (Curves, Inputs, MetricLog, TrainConfig, TrainLog, balanced_epoch, balanced_schedule,
                               count, names_with, predict, single_task_epoch, single_task_schedule)

Lrs = dict[str, list[float]]  # {unit: learning rates to try}, see selection.candidates

BASELINES = ("single_ft", "multi_ft", "shared", "joint", "fusion")
METHODS = ("adapters", "mta", *BASELINES)
LABELS = {
    "mta": "MTA (two-stage)",
    "adapters": "Per-task adapters (stage 1 only)",
    "single_ft": "Single-task full FT",
    "multi_ft": "Multi-task full FT",
    "shared": "One shared adapter",
    "joint": "MTA, one-stage joint",
    "fusion": "AdapterFusion",
}


@dataclass(frozen=True)
class Stage2Config(TrainConfig):
    train_heads: bool = False  # stage 2 may also tune heads; off = only gates + shared adapters


@dataclass
class Task:
    """What every method needs to know about the examples: rows by split, asked for by name."""

    n_labels: dict[str, int]  # {task: label count}
    splits: dict[str, dict[str, np.ndarray]]  # {split: {task: row numbers}}
    labels: np.ndarray  # [N] label of every stored example
    requested: list[str] = field(default_factory=list)  # splits asked for, in order

    @classmethod
    def from_examples(cls, examples, n_train: int | None = None) -> "Task":
        """From a subsample table (data.select_examples; row i = example i of the store).

        ``n_train``: train on the rows of rank < n_train of each task (the same rows for
        every method; a learning-curve point is another n_train); None = every stored row.
        """
        splits = {s: task_rows(examples, s) for s in SPLITS}
        if n_train is not None:
            if n_train < 1:
                raise LmreproError(f"n_train must be >= 1, got {n_train}")
            rank = examples["rank"].to_numpy()
            splits["train"] = {t: rows[rank[rows] < n_train] for t, rows in splits["train"].items()}
        return cls(n_labels(examples), splits, examples["label"].to_numpy())

    def rows(self, split: str) -> dict[str, np.ndarray]:
        """{task: row numbers} of one split; every task must have rows in it."""
        if split not in self.splits:
            raise LmreproError(f"unknown split {split!r}; have {sorted(self.splits)}")
        rows = self.splits[split]
        missing = [t for t in self.n_labels if len(rows.get(t, ())) == 0]
        if missing:
            raise LmreproError(f"task(s) {missing} have no {split!r} examples in the subsample")
        self.requested.append(split)
        return rows


@dataclass
class MethodResult:
    model: MtaClassifier | None
    preds: dict[str, np.ndarray]  # {task: predicted labels of test_rows[task]}
    logs: list[TrainLog] = field(default_factory=list)
    trainable: int = 0  # parameters trained by this method (summed over its stages/models)
    total: int = 0  # parameters needed at inference for all tasks
    valid_score: float = float("nan")  # final model(s): macro validation score over tasks
    choices: list[Choice] = field(default_factory=list)  # per unit: the learning rate and epoch chosen on valid

    @property
    def seconds(self) -> float:
        """Training time of the kept runs."""
        return sum(log.seconds for log in self.logs)

    @property
    def search_seconds(self) -> float:
        """Training time including every learning-rate candidate (the method's real cost)."""
        return sum(c.seconds for c in self.choices) if self.choices else self.seconds


def _predict_all(model: MtaClassifier, inputs: Inputs, data: Task, split: str = "test") -> dict[str, np.ndarray]:
    return {t: predict(model, inputs, rows, t) for t, rows in data.rows(split).items()}


def valid_score(model: MtaClassifier, inputs: Inputs, data: Task, tasks: list[str]) -> float:
    """Mean over ``tasks`` of the paper's score on the validation rows."""
    rows = data.rows("valid")
    return float(np.mean([task_scores(t, data.labels[rows[t]], predict(model, inputs, rows[t], t))["score"]
                          for t in tasks]))


def _curves(log: MetricLog | None, inputs: Inputs, data: Task, tasks: list[str], epoch_steps: int,
            suffix: str = ""):
    """The curve logger of one candidate run: ``suffix`` + the candidate's own suffix."""
    return lambda lr_suffix: Curves(log, epoch_steps, lambda model: valid_score(model, inputs, data, tasks),
                                    suffix + lr_suffix)


def _unit_lrs(lrs: Lrs, unit: str) -> list[float]:
    if unit not in lrs:
        raise LmreproError(f"no learning rates given for unit {unit!r} (have {sorted(lrs)})")
    return lrs[unit]


def _finish(result: MethodResult, log: MetricLog | None) -> MethodResult:
    if log is not None:
        log({"final/valid_score": result.valid_score}, 0)
    return result


def _task_adapter_names(model: MtaClassifier, t_i: int) -> list[str]:
    return names_with(model, "adapters.", contains=(f".task_adapters.{t_i}.",))


def stage2_names(model: MtaClassifier, train_heads: bool) -> list[str]:
    """What stage 2 trains: gates and shared adapters (+ heads)."""
    names = names_with(model, "adapters.", contains=(".gate_logits",))
    names += names_with(model, "adapters.", contains=(".shared_adapters.",))
    return names + (names_with(model, "heads.") if train_heads else [])


# ---- MTA --------------------------------------------------------------------------------
def stage1(encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig, cfg: TrainConfig,
           seed: int, progress=None, log: MetricLog | None = None, lrs: Lrs | None = None,
           predict_test: bool = True) -> MethodResult:
    """``lrs``: {task: rates}; each task's adapter and head choose their own (default: cfg.lr).
    ``predict_test`` False: train and validate only (the placement search reads no test row)."""
    torch.manual_seed(seed)
    model = MtaClassifier(encoder, data.n_labels, mix, "mixture").to(inputs.device)
    model.set_routing("own")
    lrs = lrs or {t: [cfg.lr] for t in model.task_names}
    result = MethodResult(model, {})
    train_rows = data.rows("train")
    for t_i, task in enumerate(model.task_names):
        rng = np.random.default_rng([seed, 1, t_i])
        schedule = single_task_schedule(task, train_rows[task], cfg, rng, inputs.encoded.lengths())
        names = _task_adapter_names(model, t_i) + names_with(model, f"heads.{task}.")
        curves = _curves(log, inputs, data, [task], single_task_epoch(train_rows[task], cfg), f"/{task}")
        tlog, choice = fit(model, inputs, data.labels, schedule, names, cfg, _unit_lrs(lrs, task),
                           seed * 1000 + t_i, curves, task, progress, f"stage1 {task}")
        result.logs.append(tlog)
        result.choices.append(choice)
    result.trainable = sum(log.trainable for log in result.logs)
    result.valid_score = valid_score(model, inputs, data, model.task_names)
    if predict_test:
        result.preds = _predict_all(model, inputs, data)
    result.total = count(model) - count(model, stage2_names(model, False))  # no gates/shared used
    return _finish(result, log)


def stage2(model: MtaClassifier, data: Task, inputs: Inputs, cfg: Stage2Config, seed: int,
           progress=None, log: MetricLog | None = None, lrs: Lrs | None = None) -> MethodResult:
    """Train the mixture of a stage-1 model in place."""
    torch.manual_seed(seed)
    model.set_routing("gate")
    rng = np.random.default_rng([seed, 2])
    return _balanced(model, inputs, data, stage2_names(model, cfg.train_heads), cfg, rng, progress, "stage2", log,
                     lrs, seed)


def _balanced(model: MtaClassifier, inputs: Inputs, data: Task, names: list[str], cfg: TrainConfig,
              rng: np.random.Generator, progress, desc: str, log: MetricLog | None, lrs: Lrs | None,
              seed: int) -> MethodResult:
    """Train ``names`` of one model on all tasks with task-balanced sampling (rates ``lrs[ALL]``,
    chosen on the macro validation score), then predict."""
    train_rows = data.rows("train")
    schedule = balanced_schedule(train_rows, cfg, rng, inputs.encoded.lengths())
    curves = _curves(log, inputs, data, model.task_names, balanced_epoch(train_rows, cfg))
    tlog, choice = fit(model, inputs, data.labels, schedule, names, cfg, _unit_lrs(lrs or {ALL: [cfg.lr]}, ALL),
                       seed, curves, ALL, progress, desc)
    result = MethodResult(model, {}, [tlog], tlog.trainable, count(model), valid_score=tlog.best_score,
                          choices=[choice])
    result.preds = _predict_all(model, inputs, data)
    return _finish(result, log)


# ---- baselines ---------------------------------------------------------------------------
def joint_adapters(kind: str, encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig,
                   cfg: TrainConfig, seed: int, progress=None, init: MtaClassifier | None = None,
                   log: MetricLog | None = None, lrs: Lrs | None = None) -> MethodResult:
    """kind 'mixture' (one-stage MTA), 'shared' (one adapter) or 'fusion' (needs ``init``,
    a stage-1 model whose task adapters and heads it starts from and keeps frozen)."""
    torch.manual_seed(seed)
    model = MtaClassifier(encoder, data.n_labels, mix, kind).to(inputs.device)
    if kind == "fusion":
        if init is None:
            raise LmreproError("AdapterFusion needs the stage-1 adapters")
        source = {k: v for k, v in init.state_dict().items() if ".task_adapters." in k or k.startswith("heads.")}
        missing = [k for k in source if k not in model.state_dict()]
        if missing:
            raise LmreproError(f"stage-1 model does not fit the fusion model: {missing[:3]}")
        model.load_state_dict(source, strict=False)
        names = names_with(model, "adapters.", contains=(".fusion.",)) + names_with(model, "heads.")
    else:
        names = names_with(model, "adapters.", "heads.")
    rng = np.random.default_rng([seed, 3])
    # Fusion's trainable count excludes the stage-1 adapters it reuses (reported with stage 1).
    return _balanced(model, inputs, data, names, cfg, rng, progress, kind, log, lrs, seed)


def multi_ft(encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig, cfg: TrainConfig,
             seed: int, progress=None, log: MetricLog | None = None, lrs: Lrs | None = None) -> MethodResult:
    torch.manual_seed(seed)
    model = MtaClassifier(copy.deepcopy(encoder), data.n_labels, mix, "none").to(inputs.device)
    rng = np.random.default_rng([seed, 4])
    names = [n for n, _ in model.named_parameters()]
    return _balanced(model, inputs, data, names, cfg, rng, progress, "multi_ft", log, lrs, seed)


def single_ft(encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig, cfg: TrainConfig,
              seed: int, progress=None, log: MetricLog | None = None, lrs: Lrs | None = None) -> MethodResult:
    """One fully fine-tuned copy of the encoder per task (total = all copies); ``lrs``:
    {task: rates}, each task's model chooses its own."""
    result = MethodResult(None, {})
    train_rows, scores = data.rows("train"), []
    lrs = lrs or {t: [cfg.lr] for t in data.n_labels}
    for t_i, (task, n) in enumerate(data.n_labels.items()):
        torch.manual_seed(seed * 1000 + t_i)
        model = MtaClassifier(copy.deepcopy(encoder), {task: n}, mix, "none").to(inputs.device)
        rng = np.random.default_rng([seed, 5, t_i])
        schedule = single_task_schedule(task, train_rows[task], cfg, rng, inputs.encoded.lengths())
        names = [n for n, _ in model.named_parameters()]
        curves = _curves(log, inputs, data, [task], single_task_epoch(train_rows[task], cfg), f"/{task}")
        tlog, choice = fit(model, inputs, data.labels, schedule, names, cfg, _unit_lrs(lrs, task),
                           seed * 1000 + t_i, curves, task, progress, f"single_ft {task}")
        result.logs.append(tlog)
        result.choices.append(choice)
        scores.append(tlog.best_score)
        # this task's model is done training and choosing: only now are its test rows read
        result.preds[task] = predict(model, inputs, data.rows("test")[task], task)
        result.total += count(model)
    result.trainable = sum(log.trainable for log in result.logs)
    result.valid_score = float(np.mean(scores))
    return _finish(result, log)
