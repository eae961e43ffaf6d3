"""Sequential indexing (Hua et al.): items numbered in order of first appearance when the
users' training sequences are read one after another, so items bought together by a user
get consecutive numbers and share leading digits."""

from __future__ import annotations

import numpy as np

from lmrepro.rec.indexing.ids import digits


def first_appearance_order(sequences: list[np.ndarray], n_items: int) -> np.ndarray:
    """[I] rank of every item; items never seen in training go last, in index order."""
    rank = np.full(n_items, -1, dtype=np.int64)
    nxt = 0
    for seq in sequences:
        for i in seq:
            if rank[i] < 0:
                rank[i] = nxt
                nxt += 1
    unseen = np.flatnonzero(rank < 0)
    rank[unseen] = nxt + np.arange(len(unseen))
    return rank


def sequential_ids(sequences: list[np.ndarray], n_items: int, base: int) -> list[tuple[int, ...]]:
    return digits(first_appearance_order(sequences, n_items), base)
