"""Gate weights of the MTA mixture at the start and the end of stage 2: what the second
stage changed, made visible.

Stage 2 trains each task's gate logits g_t and the shared adapters; its predictions alone
cannot show what it did to the routing. So every stage-2 run records the gate weights
``w_t = softmax(g_t / temperature)`` of every seed right before its first step and after
its last one (data/mta/gates/<method>.json); mta_eval averages them over seeds
(reports/mta/gates.json) and draws them as task x adapter heatmaps (reports/mta/gates.png).

Why a record of its own rather than the bundle: models/mta/mta/ (export.py, tensor
``adapters.<block>.gate_logits``) holds the gates of the first seed only, and neither
bundle nor stage-1 file holds the weights stage 2 started from.

Where stage 2 starts: stage 1 trains with routing 'own' and never updates the gates, so
the stage-1 file carries them as initialised, with ``mta.mixture.gate_init_own`` on each
task's own adapter (0.5 at temperature 0.1: weight ~0.94). The neutral-start ablation
(method ``mta_neutral``, params ``mta.ablations.neutral_gate``) overwrites them with
``gate_init_own`` 0 before training: every logit 0, equal weights on all adapters, so
stage 2 has to learn the routing instead of starting from stage 1's answer.

File format (JSON): {"method", "tasks": [T names], "experts": [K names], "temperature",
"runs": [{"seed", "start": {block: [T][K]}, "end": {block: [T][K]}}]}; ``block`` is the
index (a string) of the adapted encoder block, a row is one task's weights (sums to 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.mta.mixture import MixtureOfTaskAdapters

NEUTRAL = "mta_neutral"


@dataclass(frozen=True)
class Stage2Run:
    """One stage-2 run of the same stage module: its method name (the predictions'
    ``method`` column), its timing file stem, its training-stage name in run records and
    timing files (distinct, so the report's cost columns keep the runs apart) and the
    params key of its gate start (None: keep what stage 1 left)."""

    method: str
    label: str
    timing_stage: str
    train_stage: str
    start_key: str | None = None


RUNS = {
    "mta": Stage2Run("mta", "MTA (two-stage)", "mta_stage2", "stage2"),
    NEUTRAL: Stage2Run(NEUTRAL, "MTA, neutral gate start", "mta_stage2_neutral", "stage2_neutral",
                       "mta.ablations.neutral_gate"),
}


@dataclass(frozen=True)
class GateStart:
    """Gate logits stage 2 starts from: ``gate_init_own`` on each task's own adapter, 0 elsewhere."""

    gate_init_own: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.gate_init_own):
            raise LmreproError(f"gate start gate_init_own must be finite, got {self.gate_init_own}")


def mixtures(model: torch.nn.Module) -> dict[str, MixtureOfTaskAdapters]:
    """{adapted block index: its mixture} of a model with task adapters (kind 'mixture')."""
    found = {name: m for name, m in getattr(model, "adapters", {}).items()
             if isinstance(m, MixtureOfTaskAdapters) and m.task_experts}
    if not found:
        raise LmreproError("this model has no mixture of task adapters, so it has no gates to record")
    return found


def expert_names(model: torch.nn.Module) -> list[str]:
    """Column names of the gate matrices: the tasks' own adapters, then shared1..n."""
    mix = next(iter(mixtures(model).values()))
    return [*mix.tasks, *(f"shared{i + 1}" for i in range(len(mix.shared_adapters)))]


def weights(model: torch.nn.Module) -> dict[str, list[list[float]]]:
    """{block: [T][K]} gate weights, each row softmax(logits / temperature) as the forward uses."""
    out = {}
    with torch.no_grad():
        for name, mix in mixtures(model).items():
            w = torch.softmax(mix.gate_logits.detach().float().cpu() / mix.cfg.temperature, dim=-1)
            out[name] = w.double().tolist()
    return out


def restart(model: torch.nn.Module, start: GateStart) -> None:
    """Overwrite every mixture's gate logits with the start pattern (in place, before training)."""
    with torch.no_grad():
        for mix in mixtures(model).values():
            n_task = len(mix.task_adapters)
            logits = torch.zeros_like(mix.gate_logits)
            logits[torch.arange(n_task), torch.arange(n_task)] = start.gate_init_own
            mix.gate_logits.copy_(logits)


def record(method: str, model: torch.nn.Module, runs: list[dict]) -> dict:
    """The file content for ``runs`` = [{seed, start, end}] (start/end from :func:`weights`)."""
    mix = next(iter(mixtures(model).values()))
    return {"method": method, "tasks": list(mix.tasks), "experts": expert_names(model),
            "temperature": float(mix.cfg.temperature), "runs": runs}


def write(rec: dict, path: Path) -> None:
    check(rec, path)
    io.write_json(rec, path)


def _matrix(value, where: str, shape: tuple[int, int]) -> np.ndarray:
    try:
        m = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise LmreproError(f"{where}: not a numeric matrix: {err}") from err
    if m.shape != shape:
        raise LmreproError(f"{where}: shape {m.shape}, expected {shape} (tasks x experts)")
    if not np.isfinite(m).all() or (m < 0).any() or (m > 1).any():
        raise LmreproError(f"{where}: gate weights must be finite and in [0, 1]")
    if not np.allclose(m.sum(axis=1), 1.0, atol=1e-4):
        raise LmreproError(f"{where}: a task's gate weights must sum to 1, got row sums {m.sum(axis=1).round(4)}")
    return m


def check(rec: dict, path: Path | str) -> dict:
    """Validate a gate record; errors name the file and the key."""
    for key in ("method", "tasks", "experts", "temperature", "runs"):
        if not isinstance(rec, dict) or key not in rec:
            raise LmreproError(f"{path}: not an MTA gate record (missing key {key!r})")
    tasks, experts = list(rec["tasks"]), list(rec["experts"])
    if not tasks or experts[: len(tasks)] != tasks:
        raise LmreproError(f"{path}: experts {experts} must start with the tasks' own adapters {tasks}")
    if not rec["runs"]:
        raise LmreproError(f"{path}: runs is empty")
    blocks = None
    for i, run in enumerate(rec["runs"]):
        for key in ("seed", "start", "end"):
            if not isinstance(run, dict) or key not in run:
                raise LmreproError(f"{path}: runs[{i}] lacks key {key!r}")
        for when in ("start", "end"):
            if not isinstance(run[when], dict) or not run[when]:
                raise LmreproError(f"{path}: runs[{i}].{when} must map block index to a matrix")
            if blocks is None:
                blocks = sorted(run[when])
            if sorted(run[when]) != blocks:
                raise LmreproError(f"{path}: runs[{i}].{when} has blocks {sorted(run[when])}, expected {blocks}")
            for block, m in run[when].items():
                _matrix(m, f"{path}: runs[{i}].{when}[{block}]", (len(tasks), len(experts)))
    return rec


def read(path: Path) -> dict:
    if not Path(path).is_file():
        raise LmreproError(f"{path}: gate record missing; run the stage-2 rule that writes it")
    return check(io.read_json(path), path)


def mean_over_seeds(rec: dict) -> dict:
    """{method, tasks, experts, seeds, blocks: {block: {start, end}}}: each [T][K], mean over seeds."""
    blocks = sorted(rec["runs"][0]["start"], key=int)
    out = {}
    for block in blocks:
        out[block] = {when: np.mean([np.asarray(r[when][block], dtype=float) for r in rec["runs"]], axis=0).tolist()
                      for when in ("start", "end")}
    return {"method": rec["method"], "tasks": rec["tasks"], "experts": rec["experts"],
            "seeds": sorted(int(r["seed"]) for r in rec["runs"]), "blocks": out}


def own_weight(matrix) -> float:
    """Mean over tasks of the weight a task puts on its own adapter (the diagonal)."""
    m = np.asarray(matrix, dtype=float)
    return float(np.diag(m[:, : m.shape[0]]).mean())


def largest_change(entry: dict) -> float:
    """Largest |end - start| of any gate weight in any block."""
    return float(max(np.abs(np.asarray(b["end"]) - np.asarray(b["start"])).max() for b in entry["blocks"].values()))


def render_figure(summary: dict[str, dict], path: Path) -> None:
    """Per stage-2 run and adapted block: start, end and end - start heatmaps (task x adapter)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmrepro.io import atomic_path

    rows = [(m, b) for m in RUNS if m in summary for b in sorted(summary[m]["blocks"], key=int)]
    if not rows:
        raise LmreproError(f"no gate record of a stage-2 run ({', '.join(RUNS)}) to draw")
    n_experts = len(next(iter(summary.values()))["experts"])
    fig, axes = plt.subplots(len(rows), 3, figsize=(3 * 0.55 * n_experts + 2, 0.5 * len(rows) * n_experts + 1.2),
                             squeeze=False)
    for r, (method, block) in enumerate(rows):
        entry = summary[method]
        start, end = (np.asarray(entry["blocks"][block][w]) for w in ("start", "end"))
        change = end - start
        span = max(float(np.abs(change).max()), 1e-6)
        panels = [(start, "start of stage 2", "viridis", 0.0, 1.0), (end, "end of stage 2", "viridis", 0.0, 1.0),
                  (change, "end - start", "RdBu_r", -span, span)]
        for c, (m, title, cmap, lo, hi) in enumerate(panels):
            ax = axes[r, c]
            im = ax.imshow(m, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
            ax.set_xticks(range(len(entry["experts"])), entry["experts"], rotation=60, fontsize=7)
            ax.set_yticks(range(len(entry["tasks"])), entry["tasks"], fontsize=7)
            for (i, j), v in np.ndenumerate(m):
                label = f"{v:+.2f}" if c == 2 else f"{v:.2f}"
                dark = abs(v) > 0.6 * span if c == 2 else v < 0.5  # white text on the dark cells
                ax.text(j, i, "0.00" if label in ("+0.00", "-0.00") else label, ha="center", va="center",
                        fontsize=5, color="white" if dark else "black")
            ax.set_title(f"{RUNS[method].label}, block {block}\n{title}", fontsize=8)
            ax.set_xlabel("adapter", fontsize=7)
            if c == 0:
                ax.set_ylabel(f"task (mean of {len(entry['seeds'])} seed(s))", fontsize=7)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
