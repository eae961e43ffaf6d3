"""Pre-train the base RWKV LM from scratch on the corpus plus the task format.

Why both: the corpus makes it a language model (the filler is real English it has to
carry its state through); the task examples teach the prompt/query/answer format. The
answer positions get extra weight because they are a handful of tokens among hundreds
of filler tokens. The model is small and briefly trained on purpose: it should recall
well at short distance and forget at long distance, the phenomenon ProSG targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from lmrepro.prosg.sequences import Encoder
from lmrepro.runtime import autocast


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 300  # ~3 min on one core at the default sizes
    batch_task: int = 24  # task examples per step
    batch_text: int = 8  # corpus windows per step: keeps it a language model
    text_length: int = 128  # tokens per corpus window
    lr: float = 3e-3  # high for a tiny model trained for few steps
    warmup: int = 20  # linear warm-up steps, then cosine decay to 10%
    weight_decay: float = 0.01
    answer_weight: float = 5.0  # extra loss weight on answer tokens
    clip: float = 1.0  # gradient-norm clip: RWKV's exp-decay can spike early
    max_distance: int = 8  # task examples with at most this much filler: short sequences let copying emerge
    # within a CPU budget (5x cheaper steps); longer distances are then never practised, as for an LM
    # pre-trained on short contexts, which is where forgetting shows


def lr_at(step: int, cfg) -> float:
    """Linear warm-up over ``cfg.warmup`` steps, then cosine decay to 10% of ``cfg.lr``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def task_loss(model: nn.Module, batch, answer_weight: float) -> torch.Tensor:
    """Next-token CE on every real token, answer tokens weighted (1 + answer_weight)."""
    logits = model(input_ids=batch.ids, use_cache=False).logits[:, :-1]  # (b, T-1, V)
    targets = batch.ids[:, 1:].clone()  # (b, T-1)
    targets[targets == model.config.pad_token_id] = -100
    ce = nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="none")
    weight = (targets.flatten() != -100).float() + answer_weight * (batch.labels[:, :-1].flatten() != -100).float()
    return (ce * weight).sum() / weight.sum()


def run_steps(model: nn.Module, encoder: Encoder, texts: list[str], cfg, rng: np.random.Generator,
              draw: Callable[[np.random.Generator], tuple[pd.DataFrame, dict]], desc: str,
              progress=lambda it, **kw: it, log=None, device="cpu", amp: bool = False) -> list[dict]:
    """The optimisation loop of both pre-trainings (this module's and lmrepro.prosg.long_base's):
    each step takes task rows from ``draw(rng)`` (with what to record about them), then
    ``cfg.batch_text`` corpus windows from the same ``rng``; loss = weighted task loss + LM loss.
    ``cfg`` needs steps, lr, warmup, weight_decay, answer_weight, clip, batch_text, text_length.
    Trains in place on ``device`` (bf16 autocast there if ``amp`` and CUDA); returns one record
    of losses per step (the training curve). Sampling is on the host, so the batches are the
    same on every device."""
    model.config.pad_token_id = encoder.pad
    chunks = encoder.lm_chunks(texts, cfg.text_length)  # (N, L)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    curve = []
    for step in progress(range(cfg.steps), desc=desc, total=cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        rows, about = draw(rng)
        text = chunks[torch.as_tensor(rng.choice(len(chunks), size=cfg.batch_text, replace=False))].to(device)
        with autocast(torch.device(device), amp):
            loss_task = task_loss(model, encoder.batch(rows, device=device), cfg.answer_weight)
            loss_text = model(input_ids=text, labels=text, use_cache=False).loss
        loss = loss_task + loss_text
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        curve.append({"step": step, **about, "loss_task": loss_task.item(), "loss_text": loss_text.item()})
        if log is not None and (step % 25 == 0 or step == cfg.steps - 1):
            log(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in curve[-1].items()))
    model.eval()
    return curve


def pretrain(model: nn.Module, encoder: Encoder, examples: pd.DataFrame, texts: list[str], cfg: PretrainConfig,
             seed: int, progress=lambda it, **kw: it, log=None, device="cpu", amp: bool = False) -> list[dict]:
    """Pre-train from scratch on task examples up to ``cfg.max_distance`` plus corpus windows
    (see :func:`run_steps`)."""
    examples = examples[examples["distance"] <= cfg.max_distance]
    if examples.empty:
        raise ValueError(f"no task examples with distance <= {cfg.max_distance}")
    return run_steps(model, encoder, texts, cfg, np.random.default_rng(seed),
                     lambda rng: (examples.iloc[rng.choice(len(examples), size=cfg.batch_task, replace=False)], {}),
                     "pretrain", progress=progress, log=log, device=device, amp=amp)
