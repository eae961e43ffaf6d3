"""The LightLM section of reports/results.md: every indexing x model x setting with
HR/NDCG@5/10/20 (test), parameters, time, next to the TIGER-table peers (papers.md)."""

from __future__ import annotations

import json
from pathlib import Path

# TIGER paper, Table 1 (sequential setting, full data): Recall@5, NDCG@5, Recall@10, NDCG@10
PEERS = {
    "beauty": {"P5": (0.0163, 0.0107, 0.0254, 0.0136), "SASRec": (0.0387, 0.0249, 0.0605, 0.0318),
               "TIGER": (0.0454, 0.0321, 0.0648, 0.0384)},
    "sports": {"P5": (0.0061, 0.0041, 0.0095, 0.0052), "SASRec": (0.0233, 0.0154, 0.0350, 0.0192),
               "TIGER": (0.0264, 0.0181, 0.0400, 0.0225)},
    "toys": {"P5": (0.0070, 0.0050, 0.0121, 0.0066), "SASRec": (0.0463, 0.0306, 0.0675, 0.0374),
             "TIGER": (0.0521, 0.0371, 0.0712, 0.0432)},
}
PEER_NAMES = {"mostpop": "MostPop", "sasrec": "SASRec"}
COLS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")


def _load(folder: Path, pattern: str) -> dict[str, dict]:
    return {f.stem: json.loads(f.read_text()) for f in sorted(folder.glob(pattern))}


def _figure(rows: list[tuple], out: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmrepro import io

    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, marker in (("direct", "o"), ("sequential", "s")):
        pts = [(r[4], r[5]) for r in rows if r[3] == label]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, label=label, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test HR@10")
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return True


def render(root: Path) -> str:
    mdir = root / "reports" / "metrics" / "rec"
    trains = _load(mdir, "train-*.json")
    if not trains:
        return ""
    lines = ["## LightLM: collaborative indexing, deep-and-narrow generative recommender", ""]
    rows = []
    for stem, m in trains.items():
        dataset, method, model, setting = stem.removeprefix("train-").split("-")
        tfile = root / "reports" / "rec" / "timing" / f"{dataset}-{method}-{model}-{setting}.json"
        t = json.loads(tfile.read_text()) if tfile.is_file() else {}
        rows.append((dataset, method, model, setting, m["params"], m["test_hr@10"], m, t))
    users = {r[6]["users"] for r in rows}
    lines += [
        f"Scale: {', '.join(sorted({r[0] for r in rows}))}, a seeded sample of {sorted(users)} users "
        "(rec.subset), CPU-sized T5 models trained from scratch (rec.model, rec.train). Metrics are "
        "test HR/NDCG over all items of the sample with 20-beam trie-constrained search. The peer "
        "rows are the TIGER paper's numbers on the FULL datasets (not comparable in absolute terms "
        "at this scale: fewer users means less collaborative signal but also fewer items).",
        "",
        "| dataset | indexing | model | setting | params | " + " | ".join(COLS) + " | train s | ms/user |",
        "|---|---|---|---|---:|" + "---:|" * len(COLS) + "---:|---:|",
    ]
    for dataset, method, model, setting, params, _, m, t in sorted(rows, key=lambda r: r[:4]):
        vals = " | ".join(f"{m[f'test_{c}']:.4f}" for c in COLS)
        lines.append(f"| {dataset} | {method} | {model} | {setting} | {params:,} | {vals} | "
                     f"{t.get('train_seconds', float('nan')):.0f} | {t.get('latency_ms_per_user', float('nan')):.1f} |")
    for stem, m in _load(mdir, "peer-*.json").items():
        dataset, peer = stem.removeprefix("peer-").split("-")
        vals = " | ".join(f"{m[f'test_{c}']:.4f}" for c in COLS)
        tfile = root / "reports" / "rec" / "timing" / f"{dataset}-peer-{peer}.json"
        secs = f"{json.loads(tfile.read_text())['train_seconds']:.0f}" if tfile.is_file() else "-"
        setting = "sequential" if peer == "sasrec" else "-"
        lines.append(f"| {dataset} | - | {PEER_NAMES.get(peer, peer)} (ours) | {setting} | {m['params']:,} | "
                     f"{vals} | {secs} | - |")
    for dataset in sorted({r[0] for r in rows}):
        for peer, (h5, n5, h10, n10) in PEERS[dataset].items():
            lines.append(f"| {dataset} | - | {peer} (TIGER paper, full data) | sequential | - | "
                         f"{h5:.4f} | {n5:.4f} | {h10:.4f} | {n10:.4f} | - | - | - | - |")
    lines.append("")
    # claims
    def best(pred):
        sel = [r for r in rows if pred(r)]
        return max(sel, key=lambda r: r[5]) if sel else None

    verdicts = []
    for setting in sorted({r[3] for r in rows}):
        by_model = {}
        for r in rows:
            if r[3] == setting:
                by_model.setdefault(r[2], []).append(r[5])
        if {"lightlm", "wide"} <= set(by_model):
            import numpy as np

            ll, wd = np.mean(by_model["lightlm"]), np.mean(by_model["wide"])
            verdicts.append(f"- Deep-narrow vs wide-shallow at matched budget ({setting}, mean test HR@10 over "
                            f"indexings): lightlm {ll:.4f} vs wide {wd:.4f} -> "
                            f"{'supported' if ll > wd else 'not supported'} at this scale.")
        by_idx = {}
        for r in rows:
            if r[3] == setting:
                by_idx.setdefault(r[1], []).append(r[5])
        if by_idx:
            import numpy as np

            ranked = sorted(by_idx, key=lambda k: -np.mean(by_idx[k]))
            verdicts.append(f"- Indexings ranked by mean test HR@10 ({setting}): "
                            + ", ".join(f"{k} {np.mean(by_idx[k]):.4f}" for k in ranked) + ".")
    lines += ["Claims:", "", *verdicts,
              "- Constrained generation: every returned item is a real item by construction "
              "(trie; tests/rec/test_decoding.py).", ""]
    idx = _load(mdir, "index-*.json")
    sci = {k: v for k, v in idx.items() if "weight_share_user_user" in v}
    if sci:
        lines += ["SCI graph ablations (top-level clusters): weight share of each edge type; share of "
                  "user-item edge weight inside a top cluster; share of top clusters mixing users and items.",
                  "", "| variant | user-user | user-item | item-item | u-i edges inside | mixed clusters |",
                  "|---|---:|---:|---:|---:|---:|"]
        for k, v in sci.items():
            lines.append(f"| {k.removeprefix('index-')} | {v['weight_share_user_user']:.3f} | "
                         f"{v['weight_share_user_item']:.3f} | {v['weight_share_item_item']:.3f} | "
                         f"{v['ui_edges_inside']:.3f} | {v['mixed_clusters']:.3f} |")
        lines.append("")
    if _figure(rows, root / "reports" / "rec" / "hr10_vs_params.png"):
        lines += ["![test HR@10 vs parameters](rec/hr10_vs_params.png)", ""]
    return "\n".join(lines)
