"""The rec track's summary: every run of the profile (from the stages' metrics files) in
one JSON with its role, plus the test HR@10-vs-parameters figure. Written by the
rec_summary stage, so reports/results.md (report.py) only formats declared outputs and
never picks up stale files of another profile.

No wall time goes in here: the summary is a result, byte-identical between two runs of
the same commit, params and threads. Train and decoding times stay in
reports/rec/timing/*.json, which the evaluate stage renders into reports/timing.md."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmrepro import io  # noqa: E402
from lmrepro.errors import LmreproError  # noqa: E402


def _parts(path: Path, prefix: str, n: int) -> list[str]:
    parts = path.stem.removeprefix(prefix).split("-")
    if not path.stem.startswith(prefix) or len(parts) != n:
        raise LmreproError(f"{path}: expected a file named {prefix}<{n} fields joined by '-'>.json")
    return parts


def collect(index: list[Path], train: list[Path], peers: list[Path], ablations: list[str]) -> dict:
    """Runs keyed by their files; role 'ablation' for indexings listed in rec.ablations."""
    runs = []
    for path in train:
        dataset, method, model, setting = _parts(path, "train-", 4)
        runs.append({"dataset": dataset, "method": method, "model": model, "setting": setting,
                     "role": "ablation" if method in ablations else "main", "metrics": io.read_json(path)})
    peer_rows = []
    for path in peers:
        dataset, peer = _parts(path, "peer-", 2)
        peer_rows.append({"dataset": dataset, "peer": peer, "metrics": io.read_json(path)})
    idx = {}
    for path in index:
        dataset, method = _parts(path, "index-", 2)
        idx[f"{dataset}-{method}"] = io.read_json(path)
    return {"runs": runs, "peers": peer_rows, "index": idx}


def hr10_vs_params(summary: dict, out: Path) -> None:
    """Test HR@10 against parameter count: one marker per setting, peers as crosses."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for setting, marker in (("direct", "o"), ("sequential", "s")):
        pts = [(r["metrics"]["params"], r["metrics"]["test_hr@10"]) for r in summary["runs"]
               if r["setting"] == setting and r["role"] == "main"]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, label=f"T5 models, {setting}", alpha=0.7)
    for p in summary["peers"]:
        if p["metrics"]["params"] > 0:
            ax.scatter(p["metrics"]["params"], p["metrics"]["test_hr@10"], marker="x", color="k")
            ax.annotate(p["peer"], (p["metrics"]["params"], p["metrics"]["test_hr@10"]), fontsize=7)
        else:  # MostPop has no parameters: a horizontal reference line
            ax.axhline(p["metrics"]["test_hr@10"], color="gray", ls="--", lw=0.8, label=f"{p['peer']}")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test HR@10")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with io.atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
