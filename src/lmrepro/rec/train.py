"""Training loop of the generative recommenders (papers.md: AdamW lr 1e-3, eps 1e-6,
weight decay 0.01, 5% linear warm-up then linear decay, grad clip 1.0, batch 64, seeded),
with model selection on validation HR@20 under constrained beam search.

Devices: training moves the model to `device` and each batch to the model's device;
`amp` runs the forward passes under bf16 autocast on CUDA (the loss, backward and
optimizer stay fp32; a no-op on CPU, so CPU results do not depend on the switch).
Evaluation runs wherever the model is."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from lmrepro.rec.beam_search import constrained_beam_search
from lmrepro.rec.examples import pad_batch
from lmrepro.rec.metrics import per_user_metrics, summarize, target_ranks
from lmrepro.rec.selection import EpochSelector
from lmrepro.rec.trie import Trie
from lmrepro.runtime import autocast


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # official: 10
    batch_size: int = 64  # official: 64
    lr: float = 1e-3  # official AdamW lr
    eps: float = 1e-6  # official AdamW eps
    weight_decay: float = 0.01  # official
    warmup: float = 0.05  # official: 5% of the steps
    clip: float = 1.0  # official grad-norm clip
    num_beams: int = 20  # official: 20 beams, 20 returned
    eval_batch: int = 64  # users per beam-search batch
    eval_every: int = 1  # epochs between validation passes (selection on HR@20)
    history: int = 20  # sequential setting: items of history fed to the encoder
    valid_users: int = 0  # >0: select on a fixed seeded sample of validation users (speed)
    bucket: int = 0  # >1: sort each run of this many batches by length (fewer pads; changes the batches)


def rank_users(
    model, inputs: list[list[int]], trie: Trie, cfg: TrainConfig, amp: bool = False,
    exclude: list[np.ndarray] | None = None,
) -> np.ndarray:
    """[B, K] top-K item indices for each input, by constrained beam search on the model's
    device (amp: bf16 autocast on CUDA). exclude: per input, item indices that may not be
    returned (rec.eval.exclude_history: the user's seen items); None = full catalogue."""
    model.eval()
    out = []
    for s in range(0, len(inputs), cfg.eval_batch):
        ids, mask = pad_batch(inputs[s : s + cfg.eval_batch])
        banned = None if exclude is None else exclude[s : s + cfg.eval_batch]
        items, _ = constrained_beam_search(model, ids, mask, trie, cfg.num_beams, amp=amp, exclude=banned)
        out.append(items.numpy())
    return np.concatenate(out) if out else np.zeros((0, cfg.num_beams), dtype=np.int64)


def evaluate(model, inputs, targets: np.ndarray, users: np.ndarray, trie, cfg, amp: bool = False,
             exclude: list[np.ndarray] | None = None):
    """-> (per-user metrics, their means); exclude as in rank_users."""
    ranks = target_ranks(rank_users(model, inputs, trie, cfg, amp=amp, exclude=exclude), targets)
    per_user = per_user_metrics(users, ranks)
    return per_user, summarize(per_user)


def batch_order(examples: list[tuple[list[int], list[int]]], cfg: TrainConfig, g: torch.Generator) -> list[list[int]]:
    """One epoch's batches (example indices) from one seeded permutation. cfg.bucket <= 1:
    consecutive slices of the permutation (the official order). cfg.bucket = n > 1: each
    run of n batches of the permutation is sorted by (input, target) length and cut again,
    and the batches are shuffled (a second permutation), so a batch holds examples of
    similar length and pads fewer tokens; the number of batches per epoch is unchanged."""
    perm = torch.randperm(len(examples), generator=g).tolist()
    bs = cfg.batch_size
    if cfg.bucket <= 1:
        return [perm[s : s + bs] for s in range(0, len(perm), bs)]
    pool = cfg.bucket * bs
    batches = []
    for s in range(0, len(perm), pool):
        run = sorted(perm[s : s + pool], key=lambda i: (len(examples[i][0]), len(examples[i][1])))  # stable
        batches += [run[j : j + bs] for j in range(0, len(run), bs)]
    return [batches[k] for k in torch.randperm(len(batches), generator=g).tolist()]


def train_step(model, batch: list[tuple[list[int], list[int]]], opt, sched, clip: float,
               device: torch.device, amp: bool = False) -> float:
    """One optimizer step on a batch of (input ids, target ids) examples -> its loss. Shared
    by the training loop and the training-cost benchmark (train_bench.py), so the benchmark
    times exactly what training runs."""
    ids, mask = (t.to(device) for t in pad_batch([b[0] for b in batch]))
    labels = pad_batch([b[1] for b in batch], fill=-100)[0].to(device)
    with autocast(device, amp):
        # transformers computes the loss inside forward; autocast runs cross-entropy in fp32
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    sched.step()
    return loss.item()


def train_seq2seq(
    model,
    examples: list[tuple[list[int], list[int]]],
    validate: Callable[[object], dict[str, float]],
    cfg: TrainConfig,
    seed: int,
    log: Callable[[dict, int], None] = lambda m, step: None,
    progress=lambda it, **kw: it,
    device: torch.device | str = "cpu",
    amp: bool = False,
) -> tuple[dict[str, torch.Tensor], dict]:
    """-> (best state dict by validation HR@20, on the CPU; summary: best epoch, curve,
    seconds). The model is moved to `device` (and left there for `validate`)."""
    device = torch.device(device)
    model.to(device)
    g = torch.Generator().manual_seed(seed)  # CPU: the example order is the same on every device
    torch.manual_seed(seed)  # dropout
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
    steps_per_epoch = (len(examples) + cfg.batch_size - 1) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup * total), total)
    sel = EpochSelector(validate, cfg.epochs, cfg.eval_every, log)
    t0, step = time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        model.train()
        loss_sum = 0.0
        for idx in progress(batch_order(examples, cfg, g), desc=f"epoch {epoch}", total=steps_per_epoch):
            value = train_step(model, [examples[i] for i in idx], opt, sched, cfg.clip, device, amp)
            loss_sum += value
            log({"train/step_loss": value}, step)  # per optimizer step; the epoch mean is train/loss
            step += 1
        sel.end_epoch(model, epoch, loss_sum / max(steps_per_epoch, 1))
    return sel.best_state, {"best_epoch": sel.best_epoch, "curve": sel.curve,
                            "train_seconds": time.perf_counter() - t0}
