"""Seq2seq examples for the generative recommenders, in the two input settings.

direct (official LightLM): input = the user's ID; one example per training interaction
    (user -> that item), so the model learns each user's item distribution.
sequential (P5/TIGER): input = the IDs of the user's last `history` items joined by SEP;
    one example per training position t >= 1 (items[:t] -> items[t]).
Evaluation inputs: valid sees the training items, test sees training + valid items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmrepro.errors import LmreproError
from lmrepro.rec.vocab import EOS, PAD, SEP

SETTINGS = ("direct", "sequential")


@dataclass
class Encoded:
    """Token ids of every user's and item's ID (vocab ids, without EOS)."""

    users: list[list[int]]  # [U] per user index
    items: list[list[int]]  # [I] per item index


def history_input(items: np.ndarray, enc: Encoded, history: int) -> list[int]:
    out: list[int] = []
    for i in items[-history:]:
        if out:
            out.append(SEP)
        out.extend(enc.items[i])
    return out + [EOS]


def user_input(u: int, enc: Encoded) -> list[int]:
    return enc.users[u] + [EOS]


def train_examples(
    seqs: list[np.ndarray], enc: Encoded, setting: str, history: int
) -> list[tuple[list[int], list[int]]]:
    if setting not in SETTINGS:
        raise LmreproError(f"rec setting={setting!r}: use one of {SETTINGS}")
    out = []
    for u, seq in enumerate(seqs):
        start = 0 if setting == "direct" else 1
        for t in range(start, len(seq)):
            src = user_input(u, enc) if setting == "direct" else history_input(seq[:t], enc, history)
            out.append((src, enc.items[seq[t]] + [EOS]))
    return out


def eval_inputs(
    users: np.ndarray, seqs: list[np.ndarray], enc: Encoded, setting: str, history: int
) -> list[list[int]]:
    """Inputs for the given user indices; seqs: the items each user has seen so far."""
    if setting == "direct":
        return [user_input(u, enc) for u in users]
    return [history_input(seqs[u], enc, history) for u in users]


def pad_batch(seqs: list[list[int]], fill: int = PAD) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (ids [B, L], mask [B, L]) right-padded. Built with one tensor of all tokens and a
    length mask rather than one small tensor per row: a training step calls this twice, and
    the per-row version cost ~3% of a LightLM step on CPU."""
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.int64)  # [B]
    keep = torch.arange(int(lens.max()))[None] < lens[:, None]  # [B, L]
    ids = torch.full(keep.shape, fill, dtype=torch.int64)
    ids[keep] = torch.tensor([t for s in seqs for t in s], dtype=torch.int64)  # row-major = each row's order
    return ids, keep.to(torch.int64)
