"""Spectral Collaborative Indexing (SCI, LightLM): users and items share one affinity
graph (see graph.py) and one recursive spectral clustering, so a user's ID shares prefix
tokens with the items of its cluster. ID = cluster path + tie-break suffix, the suffix
counted separately among users and among items of a leaf (each kind must be unique)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lmrepro.rec.indexing.graph import GraphConfig, joint_affinity
from lmrepro.rec.indexing.ids import add_suffix
from lmrepro.rec.indexing.spectral import SpectralConfig, recursive_spectral


def cluster_quality(train: sp.csr_matrix, w_user_item: float, top: np.ndarray) -> dict[str, float]:
    """How well the top-level clusters mix users with their items.

    train: [U, I] binary train interactions (the user-item edges, all of one weight);
    w_user_item: their weight in the graph (0 = no user-item edges); top: [U+I] top-level
    cluster of every node, users first.
    - ui_edges_inside: share of user-item edge weight whose ends share a top cluster
      (what lets a user's ID predict its items' first token);
    - mixed_clusters: share of top clusters holding both users and items."""
    n_users = train.shape[0]
    coo = train.tocoo()
    inside = top[coo.row] == top[n_users + coo.col]
    is_user = np.arange(len(top)) < n_users
    mixed = [
        bool(is_user[top == c].any() and (~is_user[top == c]).any()) for c in np.unique(top)
    ]
    return {
        "ui_edges_inside": float(inside.mean()) if w_user_item > 0 and coo.nnz else 0.0,
        "mixed_clusters": float(np.mean(mixed)),
        "n_top_clusters": float(len(mixed)),
    }


def sci_ids(
    train: sp.csr_matrix,
    full: sp.csr_matrix | None,
    graph_cfg: GraphConfig,
    spectral_cfg: SpectralConfig,
    seed: int,
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], dict[str, float]]:
    """-> (user IDs [U], item IDs [I], graph statistics)."""
    n_users = train.shape[0]
    graph, shares = joint_affinity(train, full, graph_cfg)
    paths = recursive_spectral(graph, spectral_cfg, seed)
    top = np.array([p[0] if p else 0 for p in paths])
    stats = {f"weight_share_{k}": v for k, v in shares.items()}
    stats.update(cluster_quality(graph.b, graph.w_ui, top))
    return add_suffix(paths[:n_users]), add_suffix(paths[n_users:]), stats
