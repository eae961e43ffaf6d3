"""Benchmarks of this track, each printing ratios against its reference in one run.

    python -m lmrepro.rec.bench index [--sizes 1000 2000 4000 8000] [--with-16k]
    python -m lmrepro.rec.bench decode [--users 256]

index: our sparse spectral clustering vs the official dense approach (scikit-learn
SpectralClustering(affinity='precomputed') on a dense matrix) on the SCI joint graph of
growing Beauty user samples (largest connected component, so both solve the same
problem). Each solver runs in its own subprocess; memory = peak RSS minus RSS after the
graph is loaded (peak reset via /proc/self/clear_refs). Same top-level clustering = adjusted Rand index. Then full Beauty, sparse
only (the dense version needs ~38 GB). The 16k-node dense point takes ~100 s and ~8 GB:
only with --with-16k.

decode: trie-constrained beam search (beam_search.py) vs transformers
`generate(num_beams=..., prefix_allowed_tokens_fn=...)` on the same model, trie, beams:
identical top-k lists and the throughput ratio."""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

def _mirror() -> Path:
    from lmrepro.paths import repo_root

    env = os.environ.get("LMREPRO_DATA_MIRROR")
    return Path(env) if env else repo_root().parent / "shared" / "data"


BEAUTY = _mirror() / "rec" / "Beauty.txt"
N_CLUSTERS = 50
SEED = 0


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS, so
    the peak measured afterwards belongs to the solver, not to imports or graph loading."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _worker(kind: str, graph: str, out: str) -> None:
    """Run one solver on a saved graph in this (fresh) process; print a JSON line."""
    from threadpoolctl import threadpool_limits

    from sklearn.cluster import SpectralClustering  # imports before the baseline

    from lmrepro.rec.indexing.spectral import SpectralConfig, recursive_spectral, spectral_clustering

    a = sp.load_npz(graph).tocsr()
    base = _status_mb("VmRSS")
    _reset_peak()
    with threadpool_limits(1):
        t = time.perf_counter()
        if kind == "dense":
            labels = SpectralClustering(
                n_clusters=N_CLUSTERS, affinity="precomputed", random_state=SEED, n_init=10
            ).fit_predict(a.toarray())
        elif kind == "sparse":
            labels = spectral_clustering(a, N_CLUSTERS, SEED)
        else:  # full recursive SCI tree
            paths = recursive_spectral(a, SpectralConfig(), SEED)
            labels = np.array([p[0] for p in paths])
        secs = time.perf_counter() - t
    peak = _status_mb("VmHWM")
    np.save(out, labels)
    print(json.dumps({"secs": secs, "mem_mb": peak - base}))


def _run(kind: str, graph: Path, out: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run(
        [sys.executable, "-m", "lmrepro.rec.bench", "_worker", kind, str(graph), str(out)],
        capture_output=True, text=True, env=env,
    )
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else f"rc={res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


@functools.lru_cache(maxsize=1)
def _beauty():
    from lmrepro.rec.data import read_sequences_txt

    return read_sequences_txt(BEAUTY)


def _beauty_graph(n_users: int | None):
    from scipy.sparse.csgraph import connected_components

    from lmrepro.rec.data import Catalog, interaction_matrix, subset_users
    from lmrepro.rec.indexing.graph import GraphConfig, joint_graph

    df = _beauty()
    if n_users:
        df = subset_users(df, n_users, SEED)
    cat = Catalog.from_interactions(df)
    a, _ = joint_graph(interaction_matrix(df, cat), None, GraphConfig())
    _, comp = connected_components(a, directed=False)
    keep = np.flatnonzero(comp == np.bincount(comp).argmax())
    return a[keep][:, keep].tocsr(), a.shape[0]


def bench_index(sizes: list[int]) -> None:
    from sklearn.metrics import adjusted_rand_score

    n_all = _beauty()["user"].nunique()

    def users_for(target: int) -> int:
        lo, hi = 10, n_all  # bisect the user-sample size whose graph has ~target nodes
        while lo < hi:
            mid = (lo + hi) // 2
            if _beauty_graph(mid)[0].shape[0] < target:
                lo = mid + 1
            else:
                hi = mid
        return lo

    print(f"{'nodes':>7} {'edges':>9} {'dense s':>8} {'sparse s':>8} {'speed x':>8} "
          f"{'dense MB':>9} {'sparse MB':>9} {'mem x':>7} {'ARI':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for target in sizes:
            a, _ = _beauty_graph(users_for(target))
            g = tmp / "g.npz"
            sp.save_npz(g, a)
            d = _run("dense", g, tmp / "d.npy")
            s = _run("sparse", g, tmp / "s.npy")
            if "error" in d or "error" in s:
                print(f"{a.shape[0]:>7} failed: dense={d} sparse={s}")
                continue
            ari = adjusted_rand_score(np.load(tmp / "d.npy"), np.load(tmp / "s.npy"))
            print(f"{a.shape[0]:>7} {a.nnz // 2:>9} {d['secs']:>8.2f} {s['secs']:>8.2f} "
                  f"{d['secs'] / s['secs']:>8.1f} {d['mem_mb']:>9.0f} {s['mem_mb']:>9.0f} "
                  f"{d['mem_mb'] / max(s['mem_mb'], 1):>7.1f} {ari:>6.3f}", flush=True)
        a, n = _beauty_graph(None)
        g = tmp / "g.npz"
        sp.save_npz(g, a)
        s = _run("sparse", g, tmp / "s.npy")
        r = _run("recursive", g, tmp / "r.npy")
        print(f"full Beauty ({a.shape[0]} of {n} nodes in the largest component, {a.nnz // 2} edges), "
              f"sparse only: top level {s['secs']:.2f} s / {s['mem_mb']:.0f} MB; "
              f"whole recursive SCI tree (N=50, M=100) {r['secs']:.2f} s / {r['mem_mb']:.0f} MB")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker":
        _worker(*argv[1:4])
        return
    p = argparse.ArgumentParser(prog="python -m lmrepro.rec.bench")
    sub = p.add_subparsers(dest="what", required=True)
    pi = sub.add_parser("index")
    pi.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    pi.add_argument("--with-16k", action="store_true", help="add the 16k-node point (~100 s, ~8 GB)")
    pd_ = sub.add_parser("decode")
    pd_.add_argument("--users", type=int, default=256)
    pd_.add_argument("--beams", type=int, default=20)
    args = p.parse_args(argv)
    if args.what == "index":
        bench_index(args.sizes + ([16000] if args.with_16k else []))
    else:
        from lmrepro.rec.decode_bench import bench_decode

        bench_decode(args.users, args.beams)


if __name__ == "__main__":
    main()
