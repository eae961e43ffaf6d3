"""Figures of the energy stage's region analysis (PNG): the winner map and the tornado.

Kept apart from :mod:`lmrepro.edge.figures`, which the robustness stage also imports, so
that changing these plots reruns the energy stage alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from lmrepro import io  # noqa: E402

# one colour per design family (the technology is the panel's)
FAMILY_COLOURS = {
    "hetero": "tab:green",
    "all_sram": "tab:red",
    "dram_reload": "tab:brown",
    "dram_reload_sr": "tab:orange",
    "gated_sram-DRAM": "tab:blue",
    "gated_sram-flash": "tab:cyan",
    "all_envm": "tab:purple",
    "none": "lightgray",
}


def family(label: str) -> str:
    """Design label -> colour family: hetero-RRAM -> hetero, all_envm-STT -> all_envm."""
    for prefix in ("hetero", "all_envm"):
        if label.startswith(prefix + "-"):
            return prefix
    return label


def _save(fig, path: Path) -> None:
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png", metadata={"Software": None})
    plt.close(fig)


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted centres (geometric midpoints on a log axis)."""
    v = np.log(values) if log else values.astype(float)
    if len(v) == 1:
        mids = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = (v[1:] + v[:-1]) / 2
        mids = np.concatenate([[v[0] - (inner[0] - v[0])], inner, [v[-1] + (v[-1] - inner[-1])]])
    return np.exp(mids) if log else mids


def winner_map(data: pd.DataFrame, region: dict, path: Path, title: str) -> None:
    """Cheapest serving design per (rate, task count); rows = models, columns = technologies;
    the pre-registered region outlined."""
    models = sorted(data.model.unique())
    techs = sorted(data.technology.unique())
    families = [f for f in FAMILY_COLOURS if f in {family(w) for w in data.winner}]
    cmap = ListedColormap([FAMILY_COLOURS[f] for f in families])
    fig, axes = plt.subplots(len(models), len(techs), figsize=(4.2 * len(techs), 3.2 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        for j, tech in enumerate(techs):
            ax = axes[i][j]
            sel = data[(data.model == model) & (data.technology == tech)]
            rates = np.sort(sel.rate_hz.unique())
            tasks = np.sort(sel.n_tasks.unique())
            grid = sel.pivot(index="n_tasks", columns="rate_hz", values="winner").reindex(index=tasks, columns=rates)
            codes = np.vectorize(lambda w: families.index(family(w)))(grid.to_numpy())
            y = np.arange(len(tasks) + 1) - 0.5
            x = _edges(rates, True)
            ax.pcolormesh(x, y, codes, cmap=cmap, vmin=-0.5, vmax=len(families) - 0.5, shading="flat")
            ax.set_xscale("log")
            ax.set_yticks(np.arange(len(tasks)), [str(t) for t in tasks])
            lo = max(region.get("rate_hz_min", 0.0), x[0])
            hi = min(region.get("rate_hz_max", np.inf), x[-1])
            n_lo = np.searchsorted(tasks, region.get("n_tasks_min", 1)) - 0.5
            if hi >= lo and n_lo < len(tasks) - 0.5:
                ax.add_patch(Rectangle((lo, n_lo), hi - lo, len(tasks) - 0.5 - n_lo, fill=False, lw=2, ls="--",
                                       ec="black"))
            ax.set_title(f"{model}: {tech}", fontsize=9)
            ax.set_xlabel("inference rate (1/s)")
            ax.set_ylabel("tasks N")
    handles = [Patch(color=FAMILY_COLOURS[f], label=f) for f in families]
    handles.append(Patch(fill=False, ls="--", ec="black", label="pre-registered region"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8,
               bbox_to_anchor=(0.5, -0.02 - 0.03 * (len(handles) > 5)))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    _save(fig, path)


def tornado(data: pd.DataFrame, path: Path, title: str) -> None:
    """Saving of hetero vs its strongest competitor (competitor / hetero energy, log axis)
    at the reference point, each knob moved alone over its range; the line at 1 is where
    the sign of the saving flips."""
    models = list(dict.fromkeys(data.model))
    techs = list(dict.fromkeys(data.technology))
    knobs = list(dict.fromkeys(data.knob))
    fig, axes = plt.subplots(len(models), len(techs), figsize=(4.4 * len(techs), (0.32 * len(knobs) + 1.3) * len(models)),
                             squeeze=False)
    for (i, model), (j, tech) in ((m, t) for m in enumerate(models) for t in enumerate(techs)):
        ax = axes[i][j]
        sel = data[(data.model == model) & (data.technology == tech)]
        if sel.empty:
            ax.set_visible(False)
            continue
        base = float(sel.base_saving.iloc[0])
        spans = sel.groupby("knob", sort=False).saving.agg(["min", "max"]).reindex(knobs)
        spans["min"], spans["max"] = np.minimum(spans["min"], base), np.maximum(spans["max"], base)
        order = (np.log(spans["max"]) - np.log(spans["min"])).sort_values(kind="stable").index  # widest on top
        for k, knob in enumerate(order):
            left, right = spans.loc[knob, "min"], spans.loc[knob, "max"]
            # orange: this knob alone flips the sign; green / red: hetero wins / loses throughout
            colour = "tab:orange" if left < 1 < right else "tab:green" if base > 1 else "tab:red"
            ax.barh(k, right - left, left=left, color=colour, alpha=0.8)
        ax.axvline(base, color="black", lw=1)
        ax.axvline(1.0, color="gray", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_yticks(np.arange(len(order)), list(order), fontsize=7)
        ax.set_xlabel("saving vs strongest competitor (x)")
        ax.set_title(f"{model}: hetero-{tech}", fontsize=9)
        ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
