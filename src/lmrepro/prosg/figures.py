"""Figures and Markdown tables of accuracy vs distance (written by summarize_prosg)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lmrepro.io import atomic_path

# the methods of the main figure, in legend order; sweep variants go to the sweep table
MAIN = ["none", "repeat", "oracle", "random", "prosg_other", "prosg_shuffled", "prosg", "prosg_sg"]
LABELS = {
    "none": "no update (base)",
    "repeat": "prompt repeated (upper bound)",
    "oracle": "true-gradient step (oracle)",
    "random": "random low-rank update",
    "prosg_other": "ProSG fed another prompt (control)",
    "prosg_shuffled": "ProSG trained on shuffled prompts (control)",
    "prosg": "ProSG, end-to-end",
    "prosg_sg": "ProSG, gradient regression",
    "long_none": "long base: no update",
    "long_repeat": "long base: prompt repeated",
    "long_prosg": "long base: ProSG, end-to-end",
}
# the long base's methods (eval_prosg_long) and their short-base counterparts, paired in the figure
LONG = {"long_none": "none", "long_repeat": "repeat", "long_prosg": "prosg"}


def plot(acc: pd.DataFrame, path: Path) -> None:
    """The main figure: every MAIN method on the short base, one panel per kind."""
    _panels(acc, path, [(m, {}) for m in MAIN])


def plot_bases(acc: pd.DataFrame, path: Path) -> None:
    """Short base (solid) vs long base (dashed), each long-base method beside its counterpart."""
    lines = []
    for i, (long, short) in enumerate(LONG.items()):
        colour = f"C{i}"
        lines += [(short, {"color": colour}), (long, {"color": colour, "linestyle": "--", "marker": "s"})]
    _panels(acc, path, lines)


def _panels(acc: pd.DataFrame, path: Path, lines: list[tuple[str, dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ["all"] + sorted(k for k in acc["kind"].unique() if k != "all")
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.4), sharey=True)
    for ax, kind in zip(axes, kinds):
        for method, style in [(m, st) for m, st in lines if m in set(acc["method"])]:
            g = acc[(acc["method"] == method) & (acc["kind"] == kind)].sort_values("distance")
            err = [(g["accuracy"] - g["ci_low"]).clip(lower=0), (g["ci_high"] - g["accuracy"]).clip(lower=0)]
            ax.errorbar(g["distance"], g["accuracy"], yerr=err, ms=3, capsize=2,
                        label=LABELS.get(method, method), **{"marker": "o", **style})
        ax.set_title(f"{kind} prompts" if kind != "all" else "all prompt kinds")
        ax.set_xlabel("filler between prompt and query (words)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("exact-match accuracy (95% CI, seeds x items)")
    axes[-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def table(acc: pd.DataFrame, methods: list[str]) -> str:
    """Pooled accuracy [CI] per method x distance, as Markdown."""
    pooled = acc[acc["kind"] == "all"]
    distances = sorted(pooled["distance"].unique())
    lines = ["| method | " + " | ".join(f"d={d}" for d in distances) + " |",
             "|---|" + "---:|" * len(distances)]
    for method in methods:
        g = pooled[pooled["method"] == method].set_index("distance")
        if g.empty:
            continue
        cells = [f"{g.loc[d, 'accuracy']:.2f} [{g.loc[d, 'ci_low']:.2f}, {g.loc[d, 'ci_high']:.2f}]" for d in distances]
        lines.append(f"| {LABELS.get(method, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
