"""Sparse spectral clustering and its recursive use for hierarchical IDs.

Same method as scikit-learn's SpectralClustering(affinity='precomputed') (normalized
Laplacian embedding, rows divided by sqrt(degree), k-means), but the graph stays a
scipy.sparse matrix and the eigenvectors come from ARPACK (`eigsh`) on the normalized
adjacency D^-1/2 A D^-1/2, so cost grows with the edges instead of nodes^2.

Connected components are handled explicitly: a graph with c components has eigenvalue 1
with multiplicity c, and a plain eigsh can silently return a wrong basis of that
eigenspace. We solve each component on its own and merge the spectra (exact for a
block-diagonal matrix)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans

from lmrepro.errors import LmreproError

DENSE_MAX = 400  # below this many nodes a dense eigh is faster than ARPACK (and exact)


@dataclass(frozen=True)
class SpectralConfig:
    n_clusters: int = 50  # N: clusters per level (official README: 50)
    max_leaf: int = 100  # M: re-cluster any cluster larger than this (official README: 100)
    n_init: int = 10  # k-means restarts, as sklearn SpectralClustering's default
    eigen_tol: float = 0.0  # ARPACK tolerance; 0 = machine precision, as sklearn's arpack
    max_depth: int = 12  # guard: a deeper tree means the graph cannot be split

    def __post_init__(self):
        if self.n_clusters < 2:
            raise LmreproError(f"spectral n_clusters must be >= 2, got {self.n_clusters}")
        if self.max_leaf < 1:
            raise LmreproError(f"spectral max_leaf must be >= 1, got {self.max_leaf}")


def _top_eigs(
    m: sp.csr_matrix, k: int, rs: np.random.RandomState, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """k largest eigenpairs of a symmetric matrix; values descending. -> ([k], [n, k])"""
    n = m.shape[0]
    k = min(k, n)
    # start vector drawn exactly as sklearn does, so the k-means that follows sees the
    # same random stream as SpectralClustering(random_state=seed)
    v0 = rs.uniform(-1, 1, n)
    if n <= DENSE_MAX or k >= n - 1:
        vals, vecs = np.linalg.eigh(m.toarray())  # syevd; scipy's default evr failed here
        return vals[::-1][:k], vecs[:, ::-1][:, :k]
    vals, vecs = eigsh(m, k=k, which="LA", tol=tol, v0=v0)
    order = np.argsort(-vals, kind="stable")
    return vals[order], vecs[:, order]


def spectral_embedding(
    a: sp.spmatrix, k: int, rs: np.random.RandomState, tol: float = 0.0
) -> np.ndarray:
    """[n, k] spectral embedding of a symmetric non-negative affinity matrix.

    Columns: top-k eigenvectors of D^-1/2 A D^-1/2 (= bottom of the normalized Laplacian),
    rows divided by sqrt(degree) as sklearn does. Isolated nodes are their own component."""
    a = sp.csr_matrix(a, dtype=np.float64)
    n = a.shape[0]
    if a.shape != (n, n):
        raise LmreproError(f"affinity matrix must be square, got {a.shape}")
    deg = np.asarray(a.sum(axis=1)).ravel()
    dd = np.sqrt(np.where(deg > 0, deg, 1.0))
    inv = sp.diags(1.0 / dd)
    m = (inv @ a @ inv).tocsr()
    n_comp, comp = connected_components(a, directed=False)
    if n_comp == 1:
        _, vecs = _top_eigs(m, k, rs, tol)
    else:
        # Solve each component; a block-diagonal matrix's spectrum is the union.
        sizes = np.bincount(comp)
        cands = []  # (-value, -size, component, column) for a stable global order
        per = {}
        for c in np.argsort(-sizes, kind="stable"):
            idx = np.flatnonzero(comp == c)
            if len(idx) == 1:
                vals, vecs_c = np.array([1.0]), np.ones((1, 1))
            else:
                vals, vecs_c = _top_eigs(m[idx][:, idx], k, rs, tol)
            per[c] = (idx, vecs_c)
            for j, v in enumerate(vals):
                cands.append((-round(float(v), 10), -sizes[c], int(c), j))
            if len(cands) >= k and sum(1 for x in cands if x[0] <= -1 + 1e-10) >= k:
                break  # k eigenvalues equal to 1 already found: nothing can beat them
        cands.sort()
        vecs = np.zeros((n, min(k, len(cands))))
        for col, (_, _, c, j) in enumerate(cands[:k]):
            idx, vecs_c = per[c]
            vecs[idx, col] = vecs_c[:, j]
    emb = vecs / dd[:, None]
    # deterministic sign: largest-magnitude entry of each column positive
    signs = np.sign(emb[np.argmax(np.abs(emb), axis=0), np.arange(emb.shape[1])])
    return emb * np.where(signs == 0, 1.0, signs)


def spectral_clustering(
    a: sp.spmatrix, k: int, seed: int = 0, n_init: int = 10, tol: float = 0.0
) -> np.ndarray:
    """[n] cluster labels in 0..k-1, relabelled by first occurrence (label order is then a
    function of the partition only, not of k-means' arbitrary numbering)."""
    n = a.shape[0]
    if k >= n:
        return np.arange(n)
    n_comp, comp = connected_components(a, directed=False)
    if n_comp >= k:
        # The first k eigenvectors are only component indicators: spectral clustering
        # would split off the k-1 largest components and lump the rest. Pack whole
        # components into k size-balanced groups instead (largest first, each into the
        # currently smallest group), so recursion depth stays logarithmic.
        sizes = np.bincount(comp)
        load = np.zeros(k, dtype=np.int64)
        group = np.empty(n_comp, dtype=np.int64)
        for c in np.argsort(-sizes, kind="stable"):
            g = int(np.argmin(load))
            group[c] = g
            load[g] += sizes[c]
        return canonical_labels(group[comp])
    rs = np.random.RandomState(seed)  # one stream for eigsh start and k-means, as sklearn
    emb = spectral_embedding(a, k, rs, tol)
    raw = KMeans(n_clusters=k, n_init=n_init, random_state=rs).fit_predict(emb)
    return canonical_labels(raw)


def canonical_labels(raw: np.ndarray) -> np.ndarray:
    uniq, first, inv = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(uniq))  # clusters numbered by first member
    return rank[inv]


def recursive_spectral(a: sp.spmatrix, cfg: SpectralConfig, seed: int = 0) -> list[tuple[int, ...]]:
    """Cluster path of every node: split into N clusters, re-split any cluster > M.

    A split that puts every node into one cluster (a graph without structure, e.g. all
    nodes isolated) falls back to cutting the node list into N equal chunks in index
    order, so the recursion always terminates; such chunks carry no collaborative signal."""
    a = sp.csr_matrix(a, dtype=np.float64)
    n = a.shape[0]
    paths: list[tuple[int, ...]] = [()] * n
    stack = [(np.arange(n), ())]
    while stack:
        idx, prefix = stack.pop()
        if len(idx) <= cfg.max_leaf:
            for i in idx:
                paths[i] = prefix
            continue
        if len(prefix) >= cfg.max_depth:
            raise LmreproError(f"recursive spectral clustering exceeded max_depth={cfg.max_depth}")
        k = min(cfg.n_clusters, len(idx))
        labels = spectral_clustering(a[idx][:, idx], k, seed, cfg.n_init, cfg.eigen_tol)
        if labels.max() == 0:
            labels = (np.arange(len(idx)) * k) // len(idx)
        for c in range(labels.max(), -1, -1):
            stack.append((idx[labels == c], prefix + (c,)))
    return paths
