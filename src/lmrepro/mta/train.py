"""Training loop shared by every method: which parameters train and in which batch order
are the only things a method chooses (see methods.py).

Batches hold one task each: heads differ in label count, and the task-ID router makes one
routing choice per sequence anyway. The backbone's own dropout stays off (see
backbone.load_backbone); adapter and head dropout are on while training.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta.data import Encoded
from lmrepro.mta.features import FeatureCache
from lmrepro.runtime import autocast


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 3.0  # passes over each task's training subsample
    batch_size: int = 32  # common fine-tuning batch size
    lr: float = 1e-3  # adapters like ~1e-3; full fine-tuning overrides with ~5e-5
    weight_decay: float = 0.01  # AdamW default for BERT-style fine-tuning
    max_grad_norm: float = 1.0  # clipping keeps the softmax gate at T=0.1 stable
    length_groups: int = 0  # batches per length group (see epoch_batches); 0 = plain shuffled batches

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size < 1 or self.lr <= 0:
            raise LmreproError(f"mta training config needs epochs > 0, batch_size >= 1, lr > 0: {self}")
        if self.length_groups < 0:
            raise LmreproError(f"mta training config needs length_groups >= 0, got {self.length_groups}")


class Inputs:
    """Model inputs for a batch of rows: cached lower-block features when given, else tokens.

    Also says where the model runs (``device``; models are moved there when built) and
    whether to use bf16 autocast: ``amp`` on CUDA (runtime.amp), ``cpu_bf16`` on CPU
    (mta.precision: bf16). Why a CPU switch of its own: on this track's 2-core budget bf16
    autocast halves full fine-tuning (26.5 -> 12.3 ms per training row, MiniLM, 1 thread, AMD
    EPYC with avx512_bf16), which pays for the validation search of every method; weights,
    gradients and optimizer state stay fp32, and every method of the comparison runs under
    the same setting.
    """

    def __init__(self, encoded: Encoded, features: FeatureCache | None = None,
                 device: torch.device | str = "cpu", amp: bool = False, cpu_bf16: bool = False) -> None:
        if features is not None and len(features.offsets) != len(encoded.offsets):
            raise LmreproError("feature cache and token store have different numbers of examples")
        self.encoded = encoded
        self.features = features
        self.device = torch.device(device)
        self.amp = amp
        self.cpu_bf16 = cpu_bf16 and self.device.type == "cpu"

    def logits(self, model: nn.Module, rows: np.ndarray, task: str) -> torch.Tensor:
        with autocast(self.device, self.amp), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_bf16):
            if self.features is not None:
                attn, ffn, mask = (t.to(self.device) for t in self.features.batch(rows))  # [B, S, H] x2, [B, S]
                return model.upper_from_front(attn, ffn, mask, task).float()
            ids, mask, types = (t.to(self.device) for t in self.encoded.batch(rows))
            return model(ids, mask, types, task).float()


# ---- batch schedules ------------------------------------------------------------------
Schedule = list[tuple[str, np.ndarray]]


def _chunks(rows: np.ndarray, size: int) -> list[np.ndarray]:
    return [rows[i: i + size] for i in range(0, len(rows), size)]


def epoch_batches(rows: np.ndarray, cfg: TrainConfig, rng: np.random.Generator,
                  lengths: np.ndarray | None = None) -> list[np.ndarray]:
    """One shuffled pass over ``rows`` in batches of ``cfg.batch_size``.

    With ``cfg.length_groups`` = g > 0 and token ``lengths`` (indexed by row number): the
    shuffled rows are cut into groups of g batches, each group is sorted by length and cut
    into batches, and the batches of the pass are shuffled. Why: a batch is padded to its
    longest row, and random batches of these sentences carry 1.6-2.3x their real tokens
    (measured on the 1,000-row training subsample per task); grouping makes full fine-tuning
    affordable on more rows while every batch is still a random draw of similar-length rows
    and every row is seen once per pass.
    """
    shuffled = rng.permutation(rows)
    if cfg.length_groups == 0 or lengths is None:
        return _chunks(shuffled, cfg.batch_size)
    batches: list[np.ndarray] = []
    for group in _chunks(shuffled, cfg.batch_size * cfg.length_groups):
        batches += _chunks(group[np.argsort(lengths[group], kind="stable")], cfg.batch_size)
    return [batches[i] for i in rng.permutation(len(batches))]


def single_task_epoch(rows: np.ndarray, cfg: TrainConfig) -> int:
    """Steps in one pass over one task's rows."""
    return math.ceil(len(rows) / cfg.batch_size)


def single_task_schedule(task: str, rows: np.ndarray, cfg: TrainConfig, rng: np.random.Generator,
                         lengths: np.ndarray | None = None) -> Schedule:
    """``epochs`` shuffled passes over one task (a fractional last pass is cut short)."""
    total = max(1, round(cfg.epochs * single_task_epoch(rows, cfg)))
    out: Schedule = []
    while len(out) < total:
        out.extend((task, b) for b in epoch_batches(rows, cfg, rng, lengths))
    return out[:total]


def balanced_epoch(rows_by_task: dict[str, np.ndarray], cfg: TrainConfig) -> int:
    """Steps in one 'epoch' of task-balanced sampling: enough rounds (one batch of every
    task each) to pass once over a task of mean size."""
    mean_n = np.mean([len(r) for r in rows_by_task.values()])
    return math.ceil(mean_n / cfg.batch_size) * len(rows_by_task)


def balanced_schedule(rows_by_task: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                      lengths: np.ndarray | None = None) -> Schedule:
    """Task-balanced sampling: rounds that visit every task once in random order; each
    task cycles through its own shuffled rows, so small tasks are seen as often as large."""
    tasks = list(rows_by_task)
    rounds = max(1, round(cfg.epochs * (balanced_epoch(rows_by_task, cfg) // len(tasks))))
    queues = {t: [] for t in tasks}
    out: Schedule = []
    for _ in range(rounds):
        for t_i in rng.permutation(len(tasks)):
            task = tasks[t_i]
            if not queues[task]:
                queues[task] = epoch_batches(rows_by_task[task], cfg, rng, lengths)
            out.append((task, queues[task].pop(0)))
    return out


# ---- parameters -------------------------------------------------------------------------
def set_trainable(model: nn.Module, names: list[str]) -> list[nn.Parameter]:
    """Freeze everything except ``names``; returns the trainable parameters."""
    params = dict(model.named_parameters())
    unknown = sorted(set(names) - set(params))
    if unknown:
        raise LmreproError(f"unknown parameter names {unknown[:5]}")
    keep = set(names)
    for n, p in params.items():
        p.requires_grad_(n in keep)
    return [params[n] for n in names]


def count(model: nn.Module, names: list[str] | None = None) -> int:
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in (names if names is not None else params))


def names_with(model: nn.Module, *prefixes: str, contains: tuple[str, ...] = ()) -> list[str]:
    """Parameter names starting with one of ``prefixes`` and containing all of ``contains``."""
    return [n for n, _ in model.named_parameters()
            if n.startswith(prefixes) and all(c in n for c in contains)]


# ---- loop -------------------------------------------------------------------------------
MetricLog = Callable[[dict[str, float], int], None]  # (metrics, step), e.g. StageContext.log_metrics


@dataclass
class Curves:
    """What ``train`` reports while it runs: the loss of every step (``train/loss<suffix>``,
    step = optimizer step) and, after every epoch, ``validate(model)`` (``valid/score<suffix>``,
    step = epoch). With ``keep_best`` the trained parameters of the best validation epoch are
    kept and put back after the last step (the epochs are chosen on validation; the learning
    rate schedule still decays over all epochs); training is never stopped early.
    """

    log: MetricLog | None = None
    epoch_steps: int = 0  # steps per epoch; 0 = validate only at the end
    validate: Callable[[nn.Module], float] | None = None
    suffix: str = ""  # e.g. "/sst2" when one stage trains one model per task
    keep_best: bool = False  # end at the best validation epoch's parameters (ties: the earlier epoch)


@dataclass
class TrainLog:
    steps: int = 0
    seconds: float = 0.0  # training only; validation passes are not counted
    trainable: int = 0
    losses: list[float] = field(default_factory=list)  # mean loss per block of 20 steps
    valid_scores: list[float] = field(default_factory=list)  # one per epoch
    best_epoch: int = 0  # 1-based epoch whose parameters the model ends with (Curves.keep_best); 0 = the last

    @property
    def best_score(self) -> float:
        """Validation score of the parameters the model ends with."""
        if not self.valid_scores:
            raise LmreproError("no validation score was recorded")
        return self.valid_scores[(self.best_epoch or len(self.valid_scores)) - 1]


def _train_mode(model: nn.Module) -> None:
    model.train()
    model.embeddings.eval()  # backbone dropout off, see module docstring
    model.layers.eval()


def train(model: nn.Module, inputs: Inputs, labels: np.ndarray, schedule: Schedule,
          trainable: list[str], cfg: TrainConfig, progress=None, desc: str = "train",
          curves: Curves | None = None) -> TrainLog:
    """AdamW with linear decay over ``schedule``; only ``trainable`` parameters change."""
    curves = curves or Curves()
    params = set_trainable(model, trainable)
    if not params:
        raise LmreproError(f"{desc}: nothing to train")
    # fused: one kernel for the whole update; on CPU it takes ~0.012 s instead of ~0.098 s per
    # step for full fine-tuning's 22M weights (1 thread), a fifth of a step's time
    optim = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 1.0 - s / len(schedule))
    _train_mode(model)
    log = TrainLog(trainable=sum(p.numel() for p in params))
    start, validating = time.perf_counter(), 0.0
    window: list[float] = []
    best_state: list[torch.Tensor] | None = None
    for task, rows in (progress(schedule, desc=desc) if progress else schedule):
        logits = inputs.logits(model, rows, task)  # [B, C]
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(labels[rows]).to(logits.device))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optim.step()
        sched.step()
        step_loss = float(loss.detach())
        window.append(step_loss)
        if len(window) == 20:
            log.losses.append(float(np.mean(window)))
            window = []
        log.steps += 1
        if curves.log is not None:
            curves.log({f"train/loss{curves.suffix}": step_loss}, log.steps)
        epoch_end = curves.epoch_steps > 0 and log.steps % curves.epoch_steps == 0
        if curves.validate is not None and (epoch_end or log.steps == len(schedule)):
            t0 = time.perf_counter()
            log.valid_scores.append(float(curves.validate(model)))
            if curves.log is not None:
                curves.log({f"valid/score{curves.suffix}": log.valid_scores[-1]}, len(log.valid_scores))
            if curves.keep_best and (not log.best_epoch or log.valid_scores[-1] > log.best_score):
                log.best_epoch = len(log.valid_scores)
                best_state = [p.detach().clone() for p in params]
            _train_mode(model)
            validating += time.perf_counter() - t0
    if window:
        log.losses.append(float(np.mean(window)))
    log.seconds = time.perf_counter() - start - validating
    if best_state is not None and log.best_epoch != len(log.valid_scores):
        with torch.no_grad():
            for p, saved in zip(params, best_state):
                p.copy_(saved)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return log


@torch.no_grad()
def predict(model: nn.Module, inputs: Inputs, rows: np.ndarray, task: str, batch_size: int = 64) -> np.ndarray:
    """Argmax labels for ``rows`` of one task, [N] int64, in the order of ``rows``.

    Rows are fed in order of token length (batches padded to similar lengths; full test
    splits cost about half the padded tokens) and put back in the caller's order."""
    model.eval()
    order = np.argsort(inputs.encoded.lengths()[rows], kind="stable")
    out = [inputs.logits(model, b, task).argmax(-1).cpu().numpy() for b in _chunks(rows[order], batch_size)]
    labels = np.empty(len(rows), dtype=np.int64)
    labels[order] = np.concatenate(out)
    return labels
