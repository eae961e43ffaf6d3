"""The joint user+item affinity graph of Spectral Collaborative Indexing, kept sparse.

Blocks (U users first, then I items):
    [[ w_uu * N(B B^T),  w_ui * N(B)   ],
     [ w_ui * N(B)^T,    w_ii * N(B^T B)]]
where B is the binary train user-item matrix, B B^T counts co-purchased items per user pair
(user-user co-purchase), B^T B counts users per item pair (item-item co-occurrence), with
the diagonals removed. Memory is O(nnz), never O((U+I)^2).

`leak=True` reproduces the official code, whose user-user block is built from each user's
full list including the held-out validation and test items (papers.md, defect 1).
The per-type weights and normalisation exist because on Beauty the user-user block holds
most of the raw weight, which pushes top-level clusters to be users-only or items-only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmrepro.errors import LmreproError

NORMALIZATIONS = ("none", "max", "share")


@dataclass(frozen=True)
class GraphConfig:
    w_user_user: float = 1.0  # official code: raw counts, all weights 1
    w_user_item: float = 1.0
    w_item_item: float = 1.0
    # "none": raw counts (official); "max": each block divided by its max entry;
    # "share": each block scaled so its total weight is w_type / sum(w) of the graph.
    normalization: str = "none"
    leak: bool = False  # True = official defect: user-user edges include held-out items

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise LmreproError(
                f"rec.index graph.normalization={self.normalization!r}: use one of {NORMALIZATIONS}"
            )
        for k in ("w_user_user", "w_user_item", "w_item_item"):
            if getattr(self, k) < 0:
                raise LmreproError(f"rec.index graph.{k} must be >= 0, got {getattr(self, k)}")


def cooccurrence(m: sp.csr_matrix) -> sp.csr_matrix:
    """m m^T without its diagonal (self-pairs are not affinities)."""
    c = (m @ m.T).tocsr()
    c.setdiag(0)
    c.eliminate_zeros()
    return c


def _scale(block: sp.spmatrix, weight: float, normalization: str, total: float) -> sp.csr_matrix:
    block = block.tocsr().astype(np.float64)
    if block.nnz == 0 or weight == 0:
        return block * 0.0
    if normalization == "max":
        block = block / block.data.max()
    elif normalization == "share":
        block = block / block.data.sum() * (weight / total)
        return block
    return block * weight


def item_graph(train: sp.csr_matrix) -> sp.csr_matrix:
    """[I, I] item-item co-occurrence in training sequences (CID's graph)."""
    return cooccurrence(train.T.tocsr())


def joint_graph(
    train: sp.csr_matrix, full: sp.csr_matrix | None, cfg: GraphConfig
) -> tuple[sp.csr_matrix, dict[str, float]]:
    """[U+I, U+I] symmetric affinity graph and each edge type's share of the total weight.

    train: [U, I] binary train interactions; full: [U, I] incl. held-out (used only if leak)."""
    if cfg.leak and full is None:
        raise LmreproError("graph.leak=true needs the full interaction lists")
    uu = cooccurrence(full if cfg.leak else train)
    ii = cooccurrence(train.T.tocsr())
    total = cfg.w_user_user + cfg.w_user_item + cfg.w_item_item
    # user-item edges appear twice in a symmetric matrix; halve so "share" means share.
    uu = _scale(uu, cfg.w_user_user, cfg.normalization, total)
    ui = _scale(train, cfg.w_user_item, cfg.normalization, total)
    ii = _scale(ii, cfg.w_item_item, cfg.normalization, total)
    if cfg.normalization == "share":
        ui = ui * 0.5
    a = sp.bmat([[uu, ui], [ui.T, ii]], format="csr")
    w = {"user_user": uu.sum(), "user_item": 2 * ui.sum(), "item_item": ii.sum()}
    s = sum(w.values()) or 1.0
    return a, {k: float(v / s) for k, v in w.items()}
