"""Graph Collaborative Indexing (GCI, LightLM): split each collaborative embedding into
chunks, k-means every chunk, one token per chunk, plus a tie-break suffix. Users and items
are clustered separately (their BPR embeddings live in paired but different roles)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from lmrepro.errors import LmreproError
from lmrepro.rec.indexing.ids import add_suffix
from lmrepro.rec.indexing.spectral import canonical_labels


@dataclass(frozen=True)
class ChunkConfig:
    chunks: int = 4  # official GCI: 64 dims -> 4 chunks of 16
    clusters: int = 20  # official GCI: ~20 k-means clusters per chunk
    n_init: int = 3  # k-means restarts per chunk


def chunk_kmeans_ids(emb: np.ndarray, cfg: ChunkConfig, seed: int) -> list[tuple[int, ...]]:
    """emb: [n, d] -> one (k_1, ..., k_chunks, suffix) ID per row."""
    n, d = emb.shape
    if d % cfg.chunks:
        raise LmreproError(f"GCI: embedding dim {d} is not divisible by chunks={cfg.chunks}")
    w = d // cfg.chunks
    k = min(cfg.clusters, n)
    cols = []
    for c in range(cfg.chunks):
        km = KMeans(n_clusters=k, n_init=cfg.n_init, random_state=seed + c)
        cols.append(canonical_labels(km.fit_predict(emb[:, c * w : (c + 1) * w])))
    paths = [tuple(int(x) for x in row) for row in np.stack(cols, axis=1)]
    return add_suffix(paths)
