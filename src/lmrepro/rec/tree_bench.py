"""Whole SCI ID tree, three ways, on one Beauty user sample (issue 13 item 6).

    python -m lmrepro.rec.bench tree [--quick]          (~8,000 nodes; quick: ~1,000)
    tree_results(quick) -> list[BenchResult]     (from bench.run, for `make bench`)

The top-level benchmark (bench.py `index`) times one split; the ID tree is the recursion
(re-split every cluster larger than M, up to max_depth), whose cost depends on how
balanced the splits are. Three builds of the SCI joint graph's largest component:
- dense: the official LightLM approach, scikit-learn SpectralClustering(affinity=
  'precomputed', assign_labels='kmeans') on the dense sub-matrix of every cluster split;
- kmeans: ours (spectral.recursive_spectral on the factored graph operator), k-means labels;
- cluster_qr: ours with SpectralConfig(assign_labels='cluster_qr').
All three use the same N (n_clusters), M (max_leaf), n_init, seed and the same fallbacks
(k >= nodes: one node per cluster; a split into one cluster: equal chunks), so the times
compare solvers on the same recursion. One BLAS thread, in this process. Each tree is
described by its depth and top level (tree_stats.item_tree_stats on the nodes' paths)."""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmrepro.errors import LmreproError
from lmrepro.rec.indexing.graph import GraphConfig, joint_affinity
from lmrepro.rec.indexing.ids import add_suffix
from lmrepro.rec.indexing.spectral import SpectralConfig, canonical_labels, recursive_spectral
from lmrepro.rec.indexing.tree_stats import item_tree_stats

METHODS = ("dense", "kmeans", "cluster_qr")
NODES, QUICK_NODES = 8000, 1000  # the 8,001-node point measured before; quick: ~1k nodes


@dataclass(frozen=True)
class TreeRun:
    method: str  # one of METHODS
    secs: float  # wall seconds to build the whole tree (graph operator included for ours)
    depth: int  # cluster levels (longest path)
    top_clusters: int
    top_largest_share: float  # largest top cluster's share of all nodes (users and items)
    labels: np.ndarray  # [n] top-level cluster of every node


def dense_recursive(a: sp.csr_matrix, cfg: SpectralConfig, seed: int) -> list[tuple[int, ...]]:
    """The official approach: sklearn SpectralClustering on the dense sub-matrix of every
    cluster to split, same recursion as spectral.recursive_spectral. a: [n, n] explicit graph."""
    from sklearn.cluster import SpectralClustering

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
            raise LmreproError(f"dense recursive spectral clustering exceeded max_depth={cfg.max_depth}")
        k = min(cfg.n_clusters, len(idx))
        if k >= len(idx):
            labels = np.arange(len(idx))
        else:
            with warnings.catch_warnings():  # "Graph is not fully connected": sub-clusters often are not
                warnings.simplefilter("ignore", UserWarning)
                raw = SpectralClustering(n_clusters=k, affinity="precomputed", assign_labels="kmeans",
                                         random_state=seed, n_init=cfg.n_init).fit_predict(a[idx][:, idx].toarray())
            labels = canonical_labels(raw)
        if labels.max() == 0:
            labels = (np.arange(len(idx)) * k) // len(idx)
        for c in range(labels.max(), -1, -1):
            stack.append((idx[labels == c], prefix + (c,)))
    return paths


def measure_tree(b: sp.csr_matrix, keep: np.ndarray, cfg: SpectralConfig, seed: int = 0,
                 methods: tuple[str, ...] = METHODS) -> list[TreeRun]:
    """b: [U, I] train interactions; keep: nodes of the SCI graph to cluster (its largest
    component). -> one TreeRun per method. The dense method gets the explicit graph built
    before its clock starts (as bench.py's top-level reference); ours build the operator inside."""
    from threadpoolctl import threadpool_limits

    runs = []
    for method in methods:
        if method not in METHODS:
            raise LmreproError(f"tree bench method {method!r}: use one of {METHODS}")
        a = joint_affinity(b, None, GraphConfig())[0].subgraph(keep).explicit() if method == "dense" else None
        with threadpool_limits(1):
            t = time.perf_counter()
            if method == "dense":
                paths = dense_recursive(a, cfg, seed)
            else:
                g = joint_affinity(b, None, GraphConfig())[0].subgraph(keep)
                paths = recursive_spectral(g, dataclasses.replace(cfg, assign_labels=method), seed)
            secs = time.perf_counter() - t
        s = item_tree_stats(add_suffix(paths))  # the nodes' IDs as SCI builds them
        runs.append(TreeRun(method, secs, int(s["tree_depth"]), int(s["top_clusters"]), s["top_largest_share"],
                            np.array([p[0] if p else 0 for p in paths])))
    return runs


def _beauty(nodes: int):
    from lmrepro.rec.bench import _beauty_graph, _users_for

    b, keep, _ = _beauty_graph(_users_for(nodes))
    return b, keep


def _note(r: TreeRun) -> str:
    return f"{r.method}: depth {r.depth}, {r.top_clusters} top clusters, largest {r.top_largest_share:.0%} of nodes"


def tree_results(quick: bool = False) -> list:
    """BenchResults: dense/ours-kmeans and ours-kmeans/ours-cluster_qr whole-tree times."""
    from sklearn.metrics import adjusted_rand_score

    from lmrepro.measure import BenchResult

    b, keep = _beauty(QUICK_NODES if quick else NODES)
    runs = {r.method: r for r in measure_tree(b, keep, SpectralConfig())}
    d, k, q = runs["dense"], runs["kmeans"], runs["cluster_qr"]
    ari = adjusted_rand_score(d.labels, k.labels)
    where = f"SCI whole ID tree (N={SpectralConfig().n_clusters}, M={SpectralConfig().max_leaf}), {len(keep)} nodes"
    return [
        BenchResult("rec", f"{where}: ours k-means (factored graph) vs dense sklearn SpectralClustering (time)",
                    k.secs, d.secs, "s", None,
                    note=f"{_note(d)}; {_note(k)}; top-level ARI dense vs ours {ari:.3f}"),
        BenchResult("rec", f"{where}: ours cluster_qr vs ours k-means (time)", q.secs, k.secs, "s", None,
                    note=f"{_note(k)}; {_note(q)}"),
    ]


def bench_tree(quick: bool) -> None:
    for r in tree_results(quick):
        print(f"{r.name}: {r.candidate:.2f} s vs {r.reference:.2f} s = {r.ratio:.2f}x ({r.note})", flush=True)
