"""Training curves of the stage runs behind the current outputs, from MLflow.

Stages log their loss curves to MLflow as step metrics; the evaluate stage draws the
curves of the runs that wrote the current outputs (see provenance.py), one panel per
track, so the report shows how training went without opening the UI.
"""

from __future__ import annotations

from pathlib import Path

from lmrepro import tracking
from lmrepro.report.provenance import latest_writers


def curve_runs(root: Path) -> list[dict]:
    """Distinct writer runs whose history has a loss-like metric with several steps."""
    client = tracking.client(root)
    seen: dict[str, dict] = {}
    for w in latest_writers(root).values():
        seen.setdefault(w["run_id"], w)
    out = []
    for run_id, w in sorted(seen.items(), key=lambda kv: kv[1]["stage"]):
        run = tracking.retry(client.get_run, run_id)
        for key in sorted(run.data.metrics):
            if "loss" not in key.lower():
                continue
            if key == "train/loss" and "train/step_loss" in run.data.metrics:
                continue  # the per-epoch mean of the step curve drawn beside it, on another x axis
            history = tracking.retry(client.get_metric_history, run_id, key)
            if len(history) < 3:
                continue
            points = sorted((m.step, m.value) for m in history)
            out.append({"track": run.data.tags.get("lmrepro.track", "?"), "stage": w["stage"], "key": key, "points": points})
    return out


def plot_curves(curves: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmrepro.io import atomic_path

    tracks = sorted({c["track"] for c in curves}) or ["(none)"]
    fig, axes = plt.subplots(1, len(tracks), figsize=(5.5 * len(tracks), 4), squeeze=False)
    for ax, track in zip(axes[0], tracks):
        mine = [c for c in curves if c["track"] == track]
        for c in mine[:12]:
            steps, values = zip(*c["points"])
            ax.plot(steps, values, label=f"{c['stage']} {c['key']}", linewidth=1.2)
        ax.set_title(f"{track}: training loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if mine:
            ax.legend(fontsize=6, loc="upper right")
        else:
            ax.text(0.5, 0.5, "no step-wise loss logged", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
