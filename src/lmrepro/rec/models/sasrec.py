"""SASRec (Kang & McAuley 2018): a causal self-attention model over the user's item
sequence, the classic sequential peer of the TIGER table (papers.md section 1). It runs
on the same leave-one-out split and subset as the generative models and is ranked the
same way: full ranking over every item, HR/NDCG@5/10/20, epoch selected on validation
HR@20.

Choices (stated in the report):
- loss: full softmax cross-entropy over all items at every position ("ce"), the variant
  that converges in a few CPU epochs; "bce" is the original's one sampled negative per
  position with binary cross-entropy.
- attention: causal, pads masked as keys (each position may always attend to itself, so
  no row of the attention matrix is empty and no NaN appears at left-padded positions).
- scores: the last position's hidden state dotted with the (shared) item embeddings.
- initialisation: as the reference implementations (RecBole's SASRec, BERT): every
  embedding and linear/attention weight truncated normal with std 0.02 (cut at 2 std),
  biases 0, LayerNorm weight 1 bias 0. PyTorch's default N(0, 1) embeddings, scaled by
  sqrt(D) and reused as the output layer, made the untrained model predict the input item
  with a logit near D (cross-entropy ~56 against ln(I) ~ 8 for a uniform guess), which
  training never recovered from.
- ranking: over every item, or without the user's seen items (rec.eval.exclude_history).
- devices: the model is built on the CPU (the same seeded weights everywhere) and moved
  to `device`; batches follow it; `amp` autocasts forward passes and scores to bf16 on
  CUDA (the loss stays fp32; a no-op on CPU, so CPU results do not change).

Letters: B users, L max_len, D hidden, I items (index 0 = padding, item i -> i + 1)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.rec.metrics import mask_seen
from lmrepro.rec.selection import EpochSelector
from lmrepro.runtime import autocast

LOSSES = ("ce", "bce")
INIT_STD = 0.02  # RecBole's initializer_range / BERT's


def _init_weights(module: nn.Module) -> None:
    """Truncated normal (std INIT_STD, cut at 2 std) weights, zero biases, unit LayerNorms.
    Applied with Module.apply; draws from torch's global generator (seeded by the caller)."""
    def trunc(w: torch.Tensor) -> None:
        nn.init.trunc_normal_(w, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)

    if isinstance(module, nn.Embedding):
        trunc(module.weight)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.Linear):  # incl. attention's out_proj
        trunc(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.MultiheadAttention):  # its packed q/k/v projection
        trunc(module.in_proj_weight)
        nn.init.zeros_(module.in_proj_bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


@dataclass(frozen=True)
class SasRecConfig:
    hidden: int = 64  # SASRec paper: 50; 64 keeps heads and BLAS tiles even
    blocks: int = 2  # SASRec paper: 2 self-attention blocks
    heads: int = 1  # SASRec paper: 1 head
    max_len: int = 50  # SASRec paper: 50 for the sparse Amazon datasets
    dropout: float = 0.5  # SASRec paper: 0.5 on the sparse Amazon datasets
    loss: str = "ce"  # "ce": full softmax (fast to converge on CPU); "bce": the original
    epochs: int = 50  # more than the T5 models: one pass over a small subset is ~1 s
    batch_size: int = 128  # SASRec paper
    lr: float = 1e-3  # SASRec paper (Adam)
    weight_decay: float = 0.0  # SASRec paper: none
    eval_every: int = 1  # epochs between validation passes (selection on HR@20)

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise LmreproError(f"rec.peer.sasrec.loss={self.loss!r}: use one of {LOSSES}")
        if self.hidden % self.heads:
            raise LmreproError(f"rec.peer.sasrec: hidden={self.hidden} not divisible by heads={self.heads}")
        if min(self.hidden, self.blocks, self.max_len, self.epochs, self.batch_size, self.eval_every) < 1:
            raise LmreproError(f"rec.peer.sasrec: sizes must be positive: {self}")


class SasRec(nn.Module):
    def __init__(self, n_items: int, cfg: SasRecConfig):
        super().__init__()
        self.cfg = cfg
        self.item = nn.Embedding(n_items + 1, cfg.hidden, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(
            cfg.hidden, cfg.heads, dim_feedforward=cfg.hidden, dropout=cfg.dropout,
            activation="relu", batch_first=True, norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, cfg.blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.hidden)
        self.apply(_init_weights)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: [B, L] item ids + 1, left-padded with 0 -> hidden states [B, L, D]."""
        b, n = seq.shape
        keep = seq > 0  # [B, L]
        x = self.item(seq) * self.cfg.hidden**0.5 + self.pos.weight[None, -n:]
        x = self.drop(x) * keep[..., None]
        causal = torch.ones(n, n, dtype=torch.bool, device=seq.device).tril()  # [L, L] query may see key
        allowed = causal[None] & keep[:, None, :]  # [B, L, L]
        allowed = allowed | torch.eye(n, dtype=torch.bool, device=seq.device)[None]
        mask = torch.zeros(b, n, n, device=seq.device).masked_fill(~allowed, float("-inf"))
        mask = mask.repeat_interleave(self.cfg.heads, 0)  # [B*heads, L, L]
        h = self.blocks(x, mask=mask)
        return self.norm(h) * keep[..., None]

    def scores(self, seq: torch.Tensor) -> torch.Tensor:
        """[B, L] -> [B, I] scores of every real item for the next position."""
        h = self(seq)[:, -1]  # [B, D]
        return h @ self.item.weight[1:].T


def _left_pad(seqs: list[np.ndarray], max_len: int) -> torch.Tensor:
    """Last max_len items of each sequence, +1 for the padding id, left-padded: [B, L]."""
    out = torch.zeros(len(seqs), max_len, dtype=torch.int64)
    for r, s in enumerate(seqs):
        s = np.asarray(s)[-max_len:]
        if len(s):
            out[r, max_len - len(s) :] = torch.from_numpy(s.astype(np.int64) + 1)
    return out


@torch.no_grad()
def sasrec_topk(
    model: SasRec, seqs: list[np.ndarray], k: int, batch: int = 256, amp: bool = False,
    exclude_history: bool = False,
) -> np.ndarray:
    """[U] seen-item sequences -> [U, k] item indices by score, best first (computed on the
    model's device; amp: bf16 autocast on CUDA). exclude_history: the seen items (the whole
    sequence, not only the last max_len) are not ranked."""
    model.eval()
    device = model.item.weight.device
    out = []
    for s in range(0, len(seqs), batch):
        part = seqs[s : s + batch]
        with autocast(device, amp):
            sc = model.scores(_left_pad(part, model.cfg.max_len).to(device))  # [b, I]
        sc = mask_seen(sc.float(), part if exclude_history else None)
        out.append(sc.topk(min(k, sc.size(1)), dim=1).indices.cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, k), dtype=np.int64)


def train_sasrec(
    seqs: list[np.ndarray],
    n_items: int,
    validate: Callable[[SasRec], dict[str, float]],
    cfg: SasRecConfig,
    seed: int,
    log: Callable[[dict, int], None] = lambda m, step: None,
    device: torch.device | str = "cpu",
    amp: bool = False,
) -> tuple[SasRec, dict]:
    """seqs: [U] training item sequences. Each user contributes one row: input
    seq[:-1] -> targets seq[1:] at every position. -> (model on `device` with the weights
    of the best validation HR@20 epoch, summary: best epoch, curve, seconds)."""
    rows = [s for s in seqs if len(s) >= 2]
    if not rows:
        raise LmreproError("SASRec needs at least one user with two training items")
    device = torch.device(device)
    torch.manual_seed(seed)
    model = SasRec(n_items, cfg).to(device)  # initialised on the CPU: same weights on every device
    g = torch.Generator().manual_seed(seed)  # CPU: same order and negatives on every device
    inp = _left_pad([s[:-1] for s in rows], cfg.max_len).to(device)  # [N, L]
    tgt = _left_pad([s[1:] for s in rows], cfg.max_len).to(device)  # [N, L] aligned with inp
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sel = EpochSelector(validate, cfg.epochs, cfg.eval_every, log)
    t0, step = time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(rows), generator=g)
        loss_sum, n_batches = 0.0, 0
        for s in range(0, len(rows), cfg.batch_size):
            b = perm[s : s + cfg.batch_size].to(device)
            t = tgt[b]
            live = t > 0
            with autocast(device, amp):
                h = model(inp[b])  # [b, L, D]
                hl = h[live]  # [M, D] positions with a target
                if cfg.loss == "ce":
                    logits = hl @ model.item.weight[1:].T  # [M, I]
                else:
                    neg = torch.randint(1, n_items + 1, (len(hl),), generator=g).to(device)  # [M]
                    pos_s = (hl * model.item(t[live])).sum(-1)  # [M]
                    neg_s = (hl * model.item(neg)).sum(-1)  # [M]
            if cfg.loss == "ce":  # losses in fp32 (.float() is a no-op without amp)
                loss = nn.functional.cross_entropy(logits.float(), t[live] - 1)
            else:
                loss = (nn.functional.softplus(-pos_s.float()) + nn.functional.softplus(neg_s.float())).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            value = loss.item()
            loss_sum += value
            log({"train/step_loss": value}, step)  # per optimizer step; the epoch mean is train/loss
            n_batches += 1
            step += 1
        sel.end_epoch(model, epoch, loss_sum / n_batches)
    model.load_state_dict(sel.best_state)
    return model, {"best_epoch": sel.best_epoch, "curve": sel.curve, "train_seconds": time.perf_counter() - t0}
