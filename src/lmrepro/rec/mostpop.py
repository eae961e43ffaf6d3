"""MostPop: every user gets the K items with the most training interactions (a floor
any personalised model must beat)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def mostpop_topk(train: sp.csr_matrix, k: int) -> np.ndarray:
    """train: [U, I] -> [K] item indices, most popular first (ties: lower index first)."""
    pop = np.asarray(train.sum(axis=0)).ravel()
    return np.argsort(-pop, kind="stable")[:k]
