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
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.train import (Inputs, TrainConfig, TrainLog, balanced_schedule, count, names_with, predict,
                               single_task_schedule, train)

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
    """What every method needs to know about the examples."""

    n_labels: dict[str, int]  # {task: label count}
    train_rows: dict[str, np.ndarray]
    test_rows: dict[str, np.ndarray]
    labels: np.ndarray  # [N] label of every stored example


@dataclass
class MethodResult:
    model: MtaClassifier | None
    preds: dict[str, np.ndarray]  # {task: predicted labels of test_rows[task]}
    logs: list[TrainLog] = field(default_factory=list)
    trainable: int = 0  # parameters trained by this method (summed over its stages/models)
    total: int = 0  # parameters needed at inference for all tasks

    @property
    def seconds(self) -> float:
        return sum(log.seconds for log in self.logs)


def _predict_all(model: MtaClassifier, inputs: Inputs, data: Task) -> dict[str, np.ndarray]:
    return {t: predict(model, inputs, rows, t) for t, rows in data.test_rows.items()}


def _task_adapter_names(model: MtaClassifier, t_i: int) -> list[str]:
    return names_with(model, "adapters.", contains=(f".task_adapters.{t_i}.",))


def stage2_names(model: MtaClassifier, train_heads: bool) -> list[str]:
    """What stage 2 trains: gates and shared adapters (+ heads)."""
    names = names_with(model, "adapters.", contains=(".gate_logits",))
    names += names_with(model, "adapters.", contains=(".shared_adapters.",))
    return names + (names_with(model, "heads.") if train_heads else [])


# ---- MTA --------------------------------------------------------------------------------
def stage1(encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig, cfg: TrainConfig,
           seed: int, progress=None) -> MethodResult:
    torch.manual_seed(seed)
    model = MtaClassifier(encoder, data.n_labels, mix, "mixture").to(inputs.device)
    model.set_routing("own")
    result = MethodResult(model, {})
    for t_i, task in enumerate(model.task_names):
        rng = np.random.default_rng([seed, 1, t_i])
        schedule = single_task_schedule(task, data.train_rows[task], cfg, rng)
        names = _task_adapter_names(model, t_i) + names_with(model, f"heads.{task}.")
        result.logs.append(train(model, inputs, data.labels, schedule, names, cfg, progress, f"stage1 {task}"))
    result.trainable = sum(log.trainable for log in result.logs)
    result.preds = _predict_all(model, inputs, data)
    result.total = count(model) - count(model, stage2_names(model, False))  # no gates/shared used
    return result


def stage2(model: MtaClassifier, data: Task, inputs: Inputs, cfg: Stage2Config, seed: int,
           progress=None) -> MethodResult:
    """Train the mixture of a stage-1 model in place."""
    torch.manual_seed(seed)
    model.set_routing("gate")
    rng = np.random.default_rng([seed, 2])
    schedule = balanced_schedule(data.train_rows, cfg, rng)
    log = train(model, inputs, data.labels, schedule, stage2_names(model, cfg.train_heads), cfg, progress, "stage2")
    return MethodResult(model, _predict_all(model, inputs, data), [log], log.trainable, count(model))


# ---- baselines ---------------------------------------------------------------------------
def joint_adapters(kind: str, encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig,
                   cfg: TrainConfig, seed: int, progress=None, init: MtaClassifier | None = None) -> MethodResult:
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
    schedule = balanced_schedule(data.train_rows, cfg, rng)
    log = train(model, inputs, data.labels, schedule, names, cfg, progress, kind)
    # Fusion's trainable count excludes the stage-1 adapters it reuses (reported with stage 1).
    return MethodResult(model, _predict_all(model, inputs, data), [log], log.trainable, count(model))


def multi_ft(encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig, cfg: TrainConfig,
             seed: int, progress=None) -> MethodResult:
    torch.manual_seed(seed)
    model = MtaClassifier(copy.deepcopy(encoder), data.n_labels, mix, "none").to(inputs.device)
    rng = np.random.default_rng([seed, 4])
    schedule = balanced_schedule(data.train_rows, cfg, rng)
    names = [n for n, _ in model.named_parameters()]
    log = train(model, inputs, data.labels, schedule, names, cfg, progress, "multi_ft")
    return MethodResult(model, _predict_all(model, inputs, data), [log], log.trainable, count(model))


def single_ft(encoder: nn.Module, data: Task, inputs: Inputs, mix: MixtureConfig, cfg: TrainConfig,
              seed: int, progress=None) -> MethodResult:
    """One fully fine-tuned copy of the encoder per task (total = all copies)."""
    result = MethodResult(None, {})
    for t_i, (task, n) in enumerate(data.n_labels.items()):
        torch.manual_seed(seed * 1000 + t_i)
        model = MtaClassifier(copy.deepcopy(encoder), {task: n}, mix, "none").to(inputs.device)
        rng = np.random.default_rng([seed, 5, t_i])
        schedule = single_task_schedule(task, data.train_rows[task], cfg, rng)
        names = [n for n, _ in model.named_parameters()]
        result.logs.append(train(model, inputs, data.labels, schedule, names, cfg, progress, f"single_ft {task}"))
        result.preds[task] = predict(model, inputs, data.test_rows[task], task)
        result.total += count(model)
    result.trainable = sum(log.trainable for log in result.logs)
    return result
