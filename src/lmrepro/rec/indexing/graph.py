"""The joint user+item affinity graph of Spectral Collaborative Indexing, kept factored.

Blocks (U users first, then I items):
    [[ w_uu * N(B B^T),  w_ui * N(B)   ],
     [ w_ui * N(B)^T,    w_ii * N(B^T B)]]
where B is the binary train user-item matrix, B B^T counts co-purchased items per user pair
(user-user co-purchase), B^T B counts users per item pair (item-item co-occurrence), with
the diagonals removed, N() the per-block normalisation (a scalar per block). The graph is
used as an operator built from B (affinity.FactoredAffinity): memory and the cost of a
product are O(interactions), never O(edges) and never O((U+I)^2).

`leak=True` reproduces the official code, whose user-user block is built from each user's
full list including the held-out validation and test items (papers.md, defect 1).
The per-type weights and normalisation exist because on Beauty the user-user block holds
most of the raw weight, which pushes top-level clusters to be users-only or items-only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmrepro.errors import LmreproError
from lmrepro.rec.indexing.affinity import FactoredAffinity

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


def _cooc_sum(m: sp.csr_matrix) -> float:
    """Total weight of m m^T without its diagonal, for binary m: sum_j c_j^2 - nnz(m) with
    c the column counts, so no product is formed (the max needs one: _offdiag_max, only
    for normalization='max')."""
    c = np.asarray(m.sum(axis=0)).ravel()
    return float((c**2).sum() - m.nnz)


def _block_scale(raw_sum: float, raw_max, weight: float, normalization: str, total: float) -> float:
    """The scalar every entry of a block is multiplied by (see GraphConfig)."""
    if raw_sum <= 0 or weight == 0:
        return 0.0
    if normalization == "max":
        return weight / raw_max()
    if normalization == "share":
        return (weight / total) / raw_sum
    return weight


def _offdiag_max(m: sp.csr_matrix) -> float:
    c = (m @ m.T).tocsr()
    c.setdiag(0)
    c.eliminate_zeros()
    return float(c.data.max())


def joint_affinity(
    train: sp.csr_matrix, full: sp.csr_matrix | None, cfg: GraphConfig
) -> tuple[FactoredAffinity, dict[str, float]]:
    """The [U+I, U+I] SCI graph as an operator (affinity.FactoredAffinity: never stored edge
    by edge) and each edge type's share of the total weight.

    train: [U, I] binary train interactions; full: [U, I] incl. held-out (used only if leak)."""
    if cfg.leak and full is None:
        raise LmreproError("graph.leak=true needs the full interaction lists")
    x = full if cfg.leak else train
    total = cfg.w_user_user + cfg.w_user_item + cfg.w_item_item
    uu_sum = _cooc_sum(x)
    ii_sum = _cooc_sum(train.T.tocsr())
    ui_sum = float(train.nnz)
    s_uu = _block_scale(uu_sum, lambda: _offdiag_max(x), cfg.w_user_user, cfg.normalization, total)
    s_ii = _block_scale(ii_sum, lambda: _offdiag_max(train.T.tocsr()), cfg.w_item_item, cfg.normalization, total)
    s_ui = _block_scale(ui_sum, lambda: 1.0, cfg.w_user_item, cfg.normalization, total)
    if cfg.normalization == "share":
        s_ui *= 0.5  # user-item edges appear twice in a symmetric matrix; halve so "share" means share
    w = {"user_user": s_uu * uu_sum, "user_item": 2 * s_ui * ui_sum, "item_item": s_ii * ii_sum}
    s = sum(w.values()) or 1.0
    return FactoredAffinity(train, x, s_uu, s_ui, s_ii), {k: float(v / s) for k, v in w.items()}


def item_affinity(train: sp.csr_matrix) -> FactoredAffinity:
    """[I, I] item-item co-occurrence in training sequences (CID's graph), as an operator."""
    return FactoredAffinity(train, train, 0.0, 0.0, 1.0, users=np.arange(0))


def joint_graph(
    train: sp.csr_matrix, full: sp.csr_matrix | None, cfg: GraphConfig
) -> tuple[sp.csr_matrix, dict[str, float]]:
    """joint_affinity edge by edge: [U+I, U+I] sparse (the dense reference and tests)."""
    aff, shares = joint_affinity(train, full, cfg)
    return aff.explicit(), shares
