"""Benchmarks of this track, each printing ratios against its reference in one run.

    python -m lmrepro.rec.bench index [--sizes 1000 2000 4000 8000] [--with-16k]
    python -m lmrepro.rec.bench decode [--users 256] [--repeats 3]
    python -m lmrepro.rec.bench train [--threads 1] [--bucket N] [--batch-size B]   (train_bench.py)
    python -m lmrepro.rec.bench tree [--quick]   (whole ID tree: dense vs ours k-means vs cluster_qr, tree_bench.py)
    python -m lmrepro.rec.train_bench [--quick]   (training speed-up row alone)
    run(quick) -> list[BenchResult]       (what `make bench` collects: all of them, with targets)

index: our spectral clustering vs the official dense approach (scikit-learn
SpectralClustering(affinity='precomputed') on a dense matrix) on the SCI joint graph of
growing Beauty user samples (largest connected component, so both solve the same
problem). Ours works on the factored graph operator (indexing/affinity.py), built inside
the measurement; the dense reference gets the explicit graph ready-made and densifies it
inside. Each solver runs in its own subprocess, one BLAS thread; memory = peak RSS minus
RSS after loading the inputs (peak reset via /proc/self/clear_refs). Same top-level
clustering = adjusted Rand index. Then full Beauty, ours only (the dense version needs
~38 GB), also with the graph stored edge by edge (the first version) for comparison.
The 16k-node dense point takes ~100 s and ~8 GB: only with --with-16k.

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

from lmrepro.measure import CheckResult, peak_mb, time_training
from lmrepro.rec.bench_inputs import beauty_sequences

N_CLUSTERS = 50
SEED = 0
FULL_SECS, FULL_MB = 15.0, 500.0  # issue 8: full Beauty top level in < 15 s and < 0.5 GB


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
    """Run one solver on a saved graph in this (fresh) process; print a JSON line.

    graph: the train interactions (npz) and, next to it, the nodes to keep (.keep.npy).
    dense: the official approach on the explicit graph (built before the measurement, the
    dense copy inside it); explicit: ours on the graph stored edge by edge (built inside);
    sparse: ours on the factored operator (built inside); recursive: the whole SCI tree."""
    from threadpoolctl import threadpool_limits

    from sklearn.cluster import SpectralClustering  # imports before the baseline

    from lmrepro.rec.indexing.graph import GraphConfig, joint_affinity
    from lmrepro.rec.indexing.spectral import SpectralConfig, recursive_spectral, spectral_clustering

    b = sp.load_npz(graph).tocsr()
    keep = np.load(graph + ".keep.npy")
    a = joint_affinity(b, None, GraphConfig())[0].subgraph(keep).explicit() if kind == "dense" else None
    base = _status_mb("VmRSS")
    _reset_peak()
    with threadpool_limits(1):
        t = time.perf_counter()
        if kind == "dense":
            labels = SpectralClustering(
                n_clusters=N_CLUSTERS, affinity="precomputed", random_state=SEED, n_init=10
            ).fit_predict(a.toarray())
        else:
            g = joint_affinity(b, None, GraphConfig())[0].subgraph(keep)
            if kind == "explicit":
                labels = spectral_clustering(g.explicit(), N_CLUSTERS, SEED)
            elif kind == "sparse":
                labels = spectral_clustering(g, N_CLUSTERS, SEED)
            else:  # full recursive SCI tree
                labels = np.array([p[0] for p in recursive_spectral(g, SpectralConfig(), SEED)])
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


@functools.lru_cache(maxsize=64)
def _beauty_graph(n_users: int | None):
    """(train interactions [U, I], nodes of the SCI graph's largest component, all nodes)
    for a seeded sample of n_users users (None = all): both solvers get that component."""
    from lmrepro.rec.data import Catalog, interaction_matrix, subset_users
    from lmrepro.rec.indexing.graph import GraphConfig, joint_affinity

    df = beauty_sequences()
    if n_users:
        df = subset_users(df, n_users, SEED)
    cat = Catalog.from_interactions(df)
    b = interaction_matrix(df, cat)
    g, _ = joint_affinity(b, None, GraphConfig())
    _, comp = g.components()
    return b, np.flatnonzero(comp == np.bincount(comp).argmax()), g.n


def _save(b: sp.csr_matrix, keep: np.ndarray, path: Path) -> int:
    """Save a bench graph for the workers; -> its number of edges."""
    from lmrepro.rec.indexing.graph import GraphConfig, joint_affinity

    sp.save_npz(path, b)
    np.save(str(path) + ".keep.npy", keep)
    return joint_affinity(b, None, GraphConfig())[0].subgraph(keep).explicit().nnz // 2


def _users_for(target: int) -> int:
    """The user-sample size whose SCI graph (largest component) has ~target nodes."""
    lo, hi = 10, beauty_sequences()["user"].nunique()
    while lo < hi:
        mid = (lo + hi) // 2
        if len(_beauty_graph(mid)[1]) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def measure_index(sizes: list[int], full: bool = True, on_row=lambda row: None) -> list[dict]:
    """Dense reference vs sparse top-level clustering per size (+ full Beauty, sparse only).
    Each row: nodes, edges, dense/sparse {secs, mem_mb} (or error), ari."""
    from sklearn.metrics import adjusted_rand_score

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        g = tmp / "g.npz"
        for target in sizes:
            b, keep, _ = _beauty_graph(_users_for(target))
            edges = _save(b, keep, g)
            row = {"nodes": len(keep), "edges": edges, "dense": _run("dense", g, tmp / "d.npy"),
                   "sparse": _run("sparse", g, tmp / "s.npy")}
            if "error" not in row["dense"] and "error" not in row["sparse"]:
                row["ari"] = adjusted_rand_score(np.load(tmp / "d.npy"), np.load(tmp / "s.npy"))
            rows.append(row)
            on_row(row)
        if full:
            b, keep, n = _beauty_graph(None)
            edges = _save(b, keep, g)
            row = {"nodes": len(keep), "all_nodes": n, "edges": edges, "full": True,
                   "sparse": _run("sparse", g, tmp / "s.npy"), "explicit": _run("explicit", g, tmp / "e.npy"),
                   "recursive": _run("recursive", g, tmp / "r.npy")}
            if "error" not in row["sparse"] and "error" not in row["explicit"]:
                row["ari"] = adjusted_rand_score(np.load(tmp / "e.npy"), np.load(tmp / "s.npy"))
            rows.append(row)
            on_row(row)
    return rows


def _print_row(row: dict) -> None:
    s = row["sparse"]
    if row.get("full"):
        r, e = row["recursive"], row["explicit"]
        print(f"full Beauty ({row['nodes']} of {row['all_nodes']} nodes in the largest component, {row['edges']} "
              f"edges; dense needs ~38 GB): top level, factored operator {s['secs']:.2f} s / {s['mem_mb']:.0f} MB "
              f"(target < {FULL_SECS:g} s, < {FULL_MB:g} MB); explicit sparse graph {e['secs']:.2f} s / "
              f"{e['mem_mb']:.0f} MB (ARI between the two {row.get('ari', float('nan')):.3f}); whole recursive SCI "
              f"tree (N=50, M=100) {r['secs']:.2f} s / {r['mem_mb']:.0f} MB", flush=True)
        return
    d = row["dense"]
    if "error" in d or "error" in s:
        print(f"{row['nodes']:>7} failed: dense={d} sparse={s}", flush=True)
        return
    print(f"{row['nodes']:>7} {row['edges']:>9} {d['secs']:>8.2f} {s['secs']:>8.2f} {d['secs'] / s['secs']:>8.1f} "
          f"{d['mem_mb']:>9.0f} {s['mem_mb']:>9.0f} {d['mem_mb'] / max(s['mem_mb'], 1):>7.1f} {row['ari']:>6.3f}",
          flush=True)


def bench_index(sizes: list[int]) -> list[dict]:
    print(f"{'nodes':>7} {'edges':>9} {'dense s':>8} {'sparse s':>8} {'speed x':>8} "
          f"{'dense MB':>9} {'sparse MB':>9} {'mem x':>7} {'ARI':>6}", flush=True)
    return measure_index(sizes, on_row=_print_row)


def _mem_available_mb() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(quick: bool = False) -> list:
    """For `make bench`: decoding ratio and SCI ratios as BenchResults. quick: 64 users and
    1k/2k-node graphs; otherwise 256 users and 1k..8k nodes, plus the 16k-node point when
    this machine has the memory for the dense reference (~8 GB)."""
    from lmrepro.measure import BenchResult
    from lmrepro.rec.decode_bench import measure_decode

    out = []
    d = measure_decode(64 if quick else 256, 20, repeats=2 if quick else 3)
    if d.identical != d.users or d.invalid:
        raise RuntimeError(f"rec decode bench: lists differ from transformers ({d.identical}/{d.users} identical, "
                           f"{d.invalid} invalid)")
    out.append(BenchResult(
        "rec", f"trie-constrained beam search ({d.users} users x {d.beams} beams) vs transformers "
        "generate(prefix_allowed_tokens_fn)", d.ours_s, d.hf_s, "s", 3.0,
        note=f"identical top-{d.beams} lists for {d.identical}/{d.users} users, max score diff {d.max_score_diff:.1e}"))
    sizes = [1000, 2000] if quick else [1000, 2000, 4000, 8000]
    if not quick and _mem_available_mb() > 12_000:
        sizes.append(16000)
    for row in measure_index(sizes):
        s = row["sparse"]
        if "error" in s or ("dense" in row and "error" in row["dense"]):
            raise RuntimeError(f"rec index bench failed at {row['nodes']} nodes: {row}")
        if row.get("full"):
            note = f"{row['nodes']} nodes, {row['edges']} edges; budget from issue 8"
            out.append(BenchResult("rec", "SCI top level, full Beauty: ours (time) vs the 15 s budget", s["secs"], FULL_SECS,
                                   "s", 1.0, note=note))
            out.append(BenchResult("rec", "SCI top level, full Beauty: ours (peak MB) vs the 0.5 GB budget", s["mem_mb"],
                                   FULL_MB, "MB", 1.0, note=note))
            continue
        d, big = row["dense"], row["nodes"] >= 15000
        note = f"{row['edges']} edges, ARI vs dense {row['ari']:.3f}"
        if row["ari"] < 0.99:
            raise RuntimeError(f"rec index bench: ARI {row['ari']:.3f} < 0.99 at {row['nodes']} nodes")
        out.append(BenchResult("rec", f"SCI top level, {row['nodes']} nodes: ours (factored graph, eigsh) vs dense sklearn (time)",
                               s["secs"], d["secs"], "s", 30.0 if big else None, note=note))
        out.append(BenchResult("rec", f"SCI top level, {row['nodes']} nodes: ours (factored graph, eigsh) vs dense sklearn (peak MB)",
                               max(s["mem_mb"], 1.0), d["mem_mb"], "MB", 50.0 if big else None, note=note))
    from lmrepro.rec.train_bench import speedup_row
    from lmrepro.rec.tree_bench import tree_results

    out += tree_results(quick)
    out.append(speedup_row(quick))  # LightLM training: the default profile's batches vs the official batch 64
    return out


def gpu_step(params: dict, device, amp: bool, steps: int) -> CheckResult:
    """One LightLM (T5, deep-narrow) seq2seq training step at rec.model.lightlm."""
    import torch

    from lmrepro.config import from_dict
    from lmrepro.rec.models.t5 import T5Geometry, build_t5

    g = from_dict(T5Geometry, params["rec"]["model"]["lightlm"], "rec.model.lightlm")
    train = params["rec"]["train"]
    vocab, batch, src_len, tgt_len = 4096, int(train["batch_size"]), 2 * int(train["history"]) + 2, 5
    torch.manual_seed(0)
    model = build_t5(g, vocab).to(device).train()
    ids = torch.randint(2, vocab, (batch, src_len), device=device)
    labels = torch.randint(2, vocab, (batch, tgt_len), device=device)
    mask = torch.ones_like(ids)
    sec, total, trainable = time_training(
        model, lambda: model(input_ids=ids, attention_mask=mask, labels=labels).loss, float(train["lr"]),
        device, amp, steps)
    return CheckResult("rec", f"T5 d_model {g.d_model}, d_ff {g.d_ff}, {g.num_layers}+{g.num_decoder_layers} layers",
                       total, trainable, f"{batch} x {src_len} -> {tgt_len} tokens", sec, batch / sec,
                       "examples/s", peak_mb(device), f"vocabulary {vocab} (synthetic ids)")


def bench_train(args) -> None:
    """One row per model x setting: CPU seconds per step and per epoch, pad share, decoding."""
    import dataclasses

    import torch

    from lmrepro import config as cfgmod
    from lmrepro.rec import train_bench as tb
    from lmrepro.rec.train import TrainConfig

    torch.set_num_threads(args.threads)
    params = tb.load_params(args.params)
    cfg = cfgmod.from_dict(TrainConfig, params["rec"]["train"], "rec.train")
    cfg = dataclasses.replace(cfg, batch_size=args.batch_size or cfg.batch_size,
                              bucket=cfg.bucket if args.bucket < 0 else args.bucket,
                              history=args.history or cfg.history)
    t = time.process_time()
    su = tb.setup(beauty_sequences(), args.method, params, SEED)
    lens = [len(x) for x in su.enc.items]
    print(f"all Beauty users ({su.cat.n_users} users, {su.cat.n_items} items), {args.method} IDs "
          f"(built in {time.process_time() - t:.0f} CPU s; item ID tokens mean {np.mean(lens):.1f}, max {max(lens)}), "
          f"vocab {su.vocab.size}, "
          f"{args.threads} thread(s), batch {cfg.batch_size}, bucket {cfg.bucket}, history {cfg.history}, "
          f"{cfg.num_beams} beams; CPU seconds")
    print("| model | setting | params | examples | steps/epoch | s/step | wall s/step | epoch s | pad share "
          "| decode ms/user | decode all s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model in args.models:
        for setting in args.settings:
            c = tb.measure(su, params, model, setting, steps=args.steps, decode_users=args.decode_users, cfg=cfg)
            print(f"| {c.model} | {c.setting} | {c.params:,} | {c.examples:,} | {c.steps_per_epoch:,} | "
                  f"{c.step_cpu_s:.4f} | {c.step_wall_s:.4f} | {c.epoch_cpu_s:.0f} | {c.pad_share:.2f} | {c.decode_ms_per_user:.2f} | "
                  f"{c.decode_all_cpu_s:.0f} |", flush=True)


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
    pd_.add_argument("--repeats", type=int, default=3, help="best of this many passes per method")
    pt = sub.add_parser("train", help="CPU cost of a training epoch and of decoding, all Beauty users")
    pt.add_argument("--models", nargs="+", default=["lightlm", "wide", "p5"])
    pt.add_argument("--settings", nargs="+", default=["direct", "sequential"])
    pt.add_argument("--method", default="random", help="the rec.index variant giving the IDs")
    pt.add_argument("--threads", type=int, default=1)
    pt.add_argument("--steps", type=int, default=40, help="timed training steps (after 3 warm-up steps)")
    pt.add_argument("--decode-users", type=int, default=128)
    pt.add_argument("--batch-size", type=int, default=0, help="0: rec.train.batch_size")
    pt.add_argument("--bucket", type=int, default=-1, help="-1: rec.train.bucket")
    pt.add_argument("--history", type=int, default=0, help="0: rec.train.history (sequential setting)")
    pt.add_argument("--params", type=Path, default=None, help="params file (default params.yaml)")
    ptr = sub.add_parser("tree", help="whole SCI ID tree: dense sklearn vs ours k-means vs ours cluster_qr")
    ptr.add_argument("--quick", action="store_true", help="~1,000 nodes instead of ~8,000")
    args = p.parse_args(argv)
    if args.what == "tree":
        from lmrepro.rec.tree_bench import bench_tree

        bench_tree(args.quick)
    elif args.what == "index":
        bench_index(args.sizes + ([16000] if args.with_16k else []))
    elif args.what == "train":
        bench_train(args)
    else:
        from lmrepro.rec.decode_bench import bench_decode

        bench_decode(args.users, args.beams, repeats=args.repeats)


if __name__ == "__main__":
    main()
