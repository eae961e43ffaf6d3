"""The edge track's figures (PNG): energy vs tasks, vs inference rate; accuracy vs BER."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from lmrepro import io  # noqa: E402


def _save(fig, path: Path) -> None:
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png", metadata={"Software": None})
    plt.close(fig)


def energy_lines(results: pd.DataFrame, x: str, fixed: dict, path: Path, xlabel: str, title: str) -> None:
    """Total energy per inference vs `x`, one line per design, one panel per model."""
    models = sorted(results.model.unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        sel = results[results.model == model]
        for key, value in fixed.get(model, {}).items():
            sel = sel[sel[key] == value]
        for label, g in sel.groupby("design_label", observed=True):
            g = g.sort_values(x)
            ax.plot(g[x], g.total_uj / 1e3, marker="o", ms=3, label=str(label))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("energy per inference (mJ)")
        ax.set_title(f"{model}: {title}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, path)


def accuracy_vs_ber(summary: pd.DataFrame, path: Path, marks: dict) -> None:
    """Macro accuracy (mean +- std over seeds) vs bit-error rate; references as lines."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ber = summary[summary.condition == "int8_bit_errors"].sort_values("bit_error_rate")
    floor = ber.bit_error_rate[ber.bit_error_rate > 0].min() / 10 if (ber.bit_error_rate > 0).any() else 1e-9
    xs = ber.bit_error_rate.where(ber.bit_error_rate > 0, floor)
    ax.errorbar(xs, ber["mean"], yerr=ber["std"], marker="o", capsize=3, label="int8 backbone + bit errors")
    for cond, style in (("fp32", "--"), ("int8", ":")):
        row = summary[summary.condition == cond]
        if len(row):
            ax.axhline(row["mean"].iloc[0], ls=style, color="gray", label=cond)
    for (name, (lo, hi)), color in zip(marks.items(), ("tab:orange", "tab:red", "tab:purple")):
        ax.axvspan(lo, hi, alpha=0.15, color=color, label=name)
    ax.set_xscale("log")
    ax.set_xlabel(f"bit-error rate (0 plotted at {floor:.0e})")
    ax.set_ylabel("macro accuracy over tasks")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)
