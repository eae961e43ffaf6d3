"""Collaborative indexing (CID, Hua et al.): recursive spectral clustering of the
item-item co-occurrence graph of training sequences; ID = cluster path + tie-break."""

from __future__ import annotations

import scipy.sparse as sp

from lmrepro.rec.indexing.graph import item_affinity
from lmrepro.rec.indexing.ids import add_suffix
from lmrepro.rec.indexing.spectral import SpectralConfig, recursive_spectral


def cid_ids(train: sp.csr_matrix, cfg: SpectralConfig, seed: int) -> list[tuple[int, ...]]:
    """train: [U, I] binary train interactions -> one ID per item."""
    return add_suffix(recursive_spectral(item_affinity(train), cfg, seed))
