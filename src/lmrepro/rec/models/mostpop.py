"""MostPop: every user gets the K items with the most training interactions (a floor
any personalised model must beat). Under rec.eval.exclude_history each user's list skips
the items that user has already seen, so lists then differ between users."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from lmrepro.rec.metrics import mask_seen


def mostpop_topk(train: sp.csr_matrix, k: int) -> np.ndarray:
    """train: [U, I] -> [K] item indices, most popular first (ties: lower index first)."""
    pop = np.asarray(train.sum(axis=0)).ravel()
    return np.argsort(-pop, kind="stable")[:k]


def mostpop_lists(train: sp.csr_matrix, k: int, exclude_history: bool = False, batch: int = 1024) -> np.ndarray:
    """train: [U, I] binary seen matrix -> [U, K] item indices per user, most popular
    first (ties: lower index first); exclude_history: a user's seen items are skipped."""
    n_users, n_items = train.shape
    k = min(k, n_items)
    order = mostpop_topk(train, n_items)
    if not exclude_history:
        return np.tile(order[:k], (n_users, 1))
    # score = minus the popularity rank, so ties keep mostpop_topk's order under topk
    score = torch.empty(n_items)
    score[torch.from_numpy(order)] = -torch.arange(n_items, dtype=torch.float32)
    out = []
    for s in range(0, n_users, batch):
        part = train[s : s + batch]
        seen = [part.indices[part.indptr[r] : part.indptr[r + 1]] for r in range(part.shape[0])]
        sc = mask_seen(score.repeat(len(seen), 1), seen)
        out.append(sc.topk(k, dim=1).indices.numpy())
    return np.concatenate(out) if out else np.zeros((0, k), dtype=np.int64)
