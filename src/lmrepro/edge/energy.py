"""Energy, latency and area of N-task encoder inference on three on-chip memory designs.

NVMExplorer-style model (papers.md section 4), per inference:

    E = E_read + E_mac + E_leak + E_reload
    E_read   = sum over memories of word reads x read energy per access
    E_mac    = MACs x energy per 8-bit MAC
    E_leak   = sum over memories of leakage power x powered time
    E_reload = switch_rate x (bits x DRAM energy per bit + word writes x SRAM write energy)

Designs (``design`` column):

- ``all_sram``     backbone + N tasks' adapters/heads in one SRAM; no reloads. SRAM is
                   volatile, so it leaks for the whole period 1/rate.
- ``dram_reload``  plain fine-tuning: one full model per task in DRAM, the current one in
                   SRAM; each task switch reloads the whole model (backbone + head) from DRAM.
- ``hetero``       the shared backbone in an eNVM (``backbone_tech``), the N tasks'
                   adapters and heads in SRAM. The eNVM keeps its data unpowered, so with
                   ``nvm_power_gating`` it leaks only while an inference runs.

Latency: a weight-stationary accelerator with ``macs_per_cycle`` MACs at ``clock_ghz``,
overlapping compute with weight reads (double-buffered): max(compute, reads), reads spread
over the memory's arrays (banks read in parallel, at least one); a task switch adds the DRAM
transfer. If the active time exceeds the period 1/rate the point is flagged infeasible and
the leakage is charged for the active time.

Pruning (``sparsity``): the prunable backbone matrices are stored as a bitmask (1 bit per
weight) plus the surviving weights, so their bytes and reads scale by
(1 + (1 - s) * b) / b for b-bit weights (s = 0 stores no mask). MACs stay dense.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmrepro.edge import tech as techmod
from lmrepro.errors import LmreproError

DESIGNS = ("all_sram", "dram_reload", "hetero")
COMPONENTS = ("read_uj", "mac_uj", "leak_uj", "reload_uj")


@dataclass(frozen=True)
class EnergyConfig:
    """Knobs of the energy model; sources in the field comments."""

    target: str = "ReadEDP"  # NVSim optimization target; the paper's examples use ReadEDP
    cell_case: str = "best"  # NVMExplorer's optimistic cell (the worst-case RRAM array fails)
    sram: str = "SRAM"  # technology holding activations/adapters
    envm: tuple[str, ...] = ("RRAM", "STT", "PCM")  # FeFET has no valid array in this dump
    scaling: str = "linear"  # array scaling (tech.py): 'linear' or 'tile'
    e_mac_pj: float = 0.23  # 8-bit MAC: 0.2 pJ mult + 0.03 pJ add, Horowitz ISSCC 2014 (45 nm; not scaled)
    dram_pj_per_bit: float = 8.0  # off-chip LPDDR4 ~8 pJ/bit (papers.md section 4)
    dram_gb_per_s: float = 12.8  # LPDDR4-3200 x32 channel, for the reload latency
    clock_ghz: float = 1.0  # accelerator clock (assumed, EdgeBERT-class)
    macs_per_cycle: int = 1024  # 8-bit PE array size (assumed, EdgeBERT-class)
    nvm_power_gating: bool = True  # eNVM retains data unpowered: leak only while active


@dataclass(frozen=True)
class SweepConfig:
    """The grid the energy stage evaluates; the reference point feeds the breakdown table."""

    n_tasks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    rate_hz: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 30.0)  # inferences per second (duty cycle = rate x latency)
    switch_rate: tuple[float, ...] = (0.0, 0.1, 1.0)  # task switches per inference
    sparsity: tuple[float, ...] = (0.0,)  # backbone pruning levels priced in (edge.prune)
    reference: dict = field(
        default_factory=lambda: {"n_tasks": 8, "rate_hz": 1.0, "switch_rate": 0.1, "sparsity": 0.0}
    )


# ---------------------------------------------------------------------------- workload sums


def aggregate(workload: pd.DataFrame) -> pd.DataFrame:
    """Workload rows -> one row per (model, bottleneck) with the sums the designs need."""
    wl = workload.copy()
    bb = wl.placement == "backbone"
    prunable = bb & (wl.role != "embedding")
    task = wl.placement == "task"

    def part(mask, col):
        return wl[col].where(mask, 0.0)

    wl["bb_bytes_fixed"] = part(bb & ~prunable, "bytes")
    wl["bb_bytes_prunable"] = part(prunable, "bytes")
    wl["bb_read_fixed"] = part(bb & ~prunable, "read_bytes")
    wl["bb_read_prunable"] = part(prunable, "read_bytes")
    wl["bb_macs"] = part(bb, "macs")
    wl["task_bytes_per_task"] = part(task & wl.per_task, "bytes")
    wl["task_bytes_fixed"] = part(task & ~wl.per_task, "bytes")
    wl["task_read"] = part(task, "read_bytes")
    wl["task_macs"] = part(task, "macs")
    wl["plain_task_bytes"] = part(task & wl.in_plain, "bytes")
    wl["plain_task_read"] = part(task & wl.in_plain, "read_bytes")
    wl["plain_task_macs"] = part(task & wl.in_plain, "macs")
    cols = [c for c in wl.columns if c.startswith(("bb_", "task_", "plain_"))]
    agg = wl.groupby(["model", "bottleneck"], as_index=False)[cols].sum()
    bits = wl.groupby(["model", "bottleneck"])["weight_bits"].nunique()
    if (bits > 1).any():
        raise LmreproError("workload mixes weight precisions within one model")
    agg["weight_bits"] = wl.groupby(["model", "bottleneck"])["weight_bits"].first().to_numpy()
    return agg


def prune_factor(sparsity, weight_bits):
    """Bytes of a bitmask-pruned matrix relative to dense: (1 + (1 - s) b) / b; 1 at s = 0."""
    s = np.asarray(sparsity, dtype=float)
    b = np.asarray(weight_bits, dtype=float)
    if np.any((s < 0) | (s >= 1)):
        raise LmreproError(f"pruning sparsity must lie in [0, 1), got {np.unique(s)}")
    return np.where(s > 0, (1.0 + (1.0 - s) * b) / b, 1.0)


# ---------------------------------------------------------------------------- grid


def make_grid(models, bottlenecks, designs, envm, sweep: SweepConfig, sram: str = "SRAM") -> pd.DataFrame:
    """Cartesian product of the sweep; one row per scenario (baselines keep everything in `sram`)."""
    design_rows = [(d, sram) for d in designs if d != "hetero"]
    if "hetero" in designs:
        design_rows += [("hetero", t) for t in envm]
    parts = {
        "model": list(models),
        "bottleneck": list(bottlenecks),
        "design_idx": list(range(len(design_rows))),
        "n_tasks": list(sweep.n_tasks),
        "rate_hz": list(sweep.rate_hz),
        "switch_rate": list(sweep.switch_rate),
        "sparsity": list(sweep.sparsity),
    }
    index = pd.MultiIndex.from_product(list(parts.values()), names=list(parts))
    grid = index.to_frame(index=False)
    grid["design"] = [design_rows[i][0] for i in grid.design_idx]
    grid["backbone_tech"] = [design_rows[i][1] for i in grid.design_idx]
    for col in ("model", "design", "backbone_tech"):  # categorical: the sweep stays numeric work
        grid[col] = grid[col].astype("category")
    return grid.drop(columns="design_idx")


def _codes(values: pd.Series, categories, what: str) -> np.ndarray:
    """Strings -> integer codes into `categories` (numpy work stays off Python strings)."""
    codes = pd.Categorical(values, categories=list(categories)).codes
    if (codes < 0).any():
        bad = sorted(set(pd.unique(values)) - set(categories))
        raise LmreproError(f"unknown {what} {bad}; expected one of {list(categories)}")
    return codes


def _check_grid(grid: pd.DataFrame) -> None:
    for col, lo in (("n_tasks", 1), ("rate_hz", 0), ("switch_rate", 0)):
        v = grid[col].to_numpy(float)
        if (v < lo).any() or (col == "rate_hz" and (v <= 0).any()):
            raise LmreproError(f"sweep column {col!r} has out-of-range values (min {v.min()})")
    if (grid.switch_rate.to_numpy(float) > 1).any():
        raise LmreproError("switch_rate is switches per inference and must be <= 1")


# ---------------------------------------------------------------------------- memories


def _memories(grid: pd.DataFrame, agg: pd.DataFrame, design: np.ndarray) -> dict:
    """Per scenario (numpy arrays): bytes/reads of memory A (backbone store) and B (task SRAM)."""
    # (model, bottleneck) -> agg row through a small 2-D lookup (no per-row string hashing)
    models = sorted(set(agg.model))
    necks = np.unique(agg.bottleneck.to_numpy(np.int64))
    lookup = np.full((len(models) + 1, len(necks) + 1), -1)
    lookup[[models.index(x) for x in agg.model], np.searchsorted(necks, agg.bottleneck)] = np.arange(len(agg))
    mi = pd.Categorical(grid.model, categories=models).codes  # -1 -> last row: missing
    g = grid.bottleneck.to_numpy(np.int64)
    bi = np.searchsorted(necks, g)
    bi = np.where((bi < len(necks)) & (necks[np.minimum(bi, len(necks) - 1)] == g), bi, -1)
    at = lookup[mi, bi]
    if (at < 0).any():
        miss = grid.loc[at < 0, ["model", "bottleneck"]].drop_duplicates().values.tolist()
        raise LmreproError(f"no workload for (model, bottleneck) {miss}")
    w = {c: agg[c].to_numpy(float)[at] for c in agg.columns if c not in ("model", "bottleneck")}
    f = prune_factor(grid.sparsity.to_numpy(float), w["weight_bits"])
    bb = w["bb_bytes_fixed"] + f * w["bb_bytes_prunable"]
    bb_read = w["bb_read_fixed"] + f * w["bb_read_prunable"]
    tasks = grid.n_tasks.to_numpy(float) * w["task_bytes_per_task"] + w["task_bytes_fixed"]
    is_sram, is_dram, is_het = (design == DESIGNS.index(d) for d in DESIGNS)
    plain = bb + w["plain_task_bytes"]
    return {
        "a_bytes": np.select([is_sram, is_dram], [bb + tasks, plain], bb),
        "a_read": np.select([is_sram, is_dram], [bb_read + w["task_read"], bb_read + w["plain_task_read"]], bb_read),
        "b_bytes": np.where(is_het, tasks, 0.0),
        "b_read": np.where(is_het, w["task_read"], 0.0),
        "reload_bytes": np.where(is_dram, plain, 0.0),
        "macs": w["bb_macs"] + np.where(is_dram, w["plain_task_macs"], w["task_macs"]),
        "is_het": is_het,
    }


# ---------------------------------------------------------------------------- vectorized model


def simulate(grid: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: EnergyConfig) -> pd.DataFrame:
    """Evaluate every scenario of `grid` at once (numpy); energies in uJ, time in ms."""
    _check_grid(grid)
    design = _codes(grid.design, DESIGNS, "design")
    m = _memories(grid, aggregate(workload), design)
    het_techs = sorted(set(pd.unique(grid.backbone_tech[m["is_het"]])))
    names = sorted({cfg.sram, *het_techs})
    rows = {t: techmod.select(table, t, cfg.target, cfg.cell_case) for t in names}
    het_code = _codes(grid.backbone_tech, [*names, *sorted(set(grid.backbone_tech.unique()) - set(names))], "technology")
    tech_code = np.where(m["is_het"], het_code, names.index(cfg.sram))

    def col(name):  # per-scenario value of memory A's characterization
        return np.array([float(rows[t][name]) for t in names])[tech_code]

    sram = rows[cfg.sram]
    a_bytes, b_bytes = m["a_bytes"], m["b_bytes"]
    n_a = techmod.n_arrays(a_bytes, col("capacity_bytes"), cfg.scaling)
    n_b = techmod.n_arrays(b_bytes, float(sram["capacity_bytes"]), cfg.scaling)
    word_a = col("word_bits")
    words_a = m["a_read"] * 8.0 / word_a  # word reads per inference
    words_b = m["b_read"] * 8.0 / float(sram["word_bits"])
    e_read = (words_a * col("read_energy_pj") + words_b * float(sram["read_energy_pj"])) * 1e-6  # pJ -> uJ
    e_mac = m["macs"] * cfg.e_mac_pj * 1e-6
    t_compute = m["macs"] / (cfg.macs_per_cycle * cfg.clock_ghz * 1e9)  # s
    t_mem = (
        words_a * col("read_latency_ns") / np.maximum(n_a, 1.0)
        + words_b * float(sram["read_latency_ns"]) / np.maximum(n_b, 1.0)
    ) * 1e-9
    sw = grid.switch_rate.to_numpy(float)
    reload_bytes = m["reload_bytes"]
    t_active = np.maximum(t_compute, t_mem) + sw * reload_bytes / (cfg.dram_gb_per_s * 1e9)
    period = 1.0 / grid.rate_hz.to_numpy(float)
    t_on = np.maximum(period, t_active)
    p_a = n_a * col("leakage_mw") * 1e-3  # W
    p_b = n_b * float(sram["leakage_mw"]) * 1e-3
    gated = m["is_het"] & cfg.nvm_power_gating
    e_leak = (p_a * np.where(gated, t_active, t_on) + p_b * t_on) * 1e6  # J -> uJ
    reload_words = reload_bytes * 8.0 / word_a
    e_reload = sw * (reload_bytes * 8.0 * cfg.dram_pj_per_bit + reload_words * col("write_energy_pj")) * 1e-6
    labels = [*DESIGNS[:2], *(f"hetero-{t}" for t in names)]
    label_code = np.where(m["is_het"], 2 + tech_code, design)
    in_sram = tech_code == names.index(cfg.sram)
    out = grid.copy()
    out["backbone_tech"] = pd.Categorical.from_codes(tech_code, categories=names)
    out["design_label"] = pd.Categorical.from_codes(label_code, categories=labels)
    out["read_uj"] = e_read
    out["mac_uj"] = e_mac
    out["leak_uj"] = e_leak
    out["reload_uj"] = e_reload
    out["total_uj"] = e_read + e_mac + e_leak + e_reload
    out["latency_ms"] = t_active * 1e3
    out["duty_cycle"] = np.minimum(t_active / period, 1.0)
    out["feasible"] = t_active <= period
    out["sram_bytes"] = np.where(in_sram, a_bytes, 0.0) + b_bytes
    out["envm_bytes"] = np.where(in_sram, 0.0, a_bytes)
    out["area_mm2"] = n_a * col("area_mm2") + n_b * float(sram["area_mm2"])
    return out


# ---------------------------------------------------------------------------- scalar reference


def simulate_one(s: dict, agg_row: dict, rows: dict, cfg: EnergyConfig) -> dict:
    """The same model for one scenario in plain Python: the reference `simulate` is tested
    and benchmarked against (and the easiest place to read the formulas)."""
    b = agg_row["weight_bits"]
    sp = s["sparsity"]
    f = (1 + (1 - sp) * b) / b if sp > 0 else 1.0
    bb = agg_row["bb_bytes_fixed"] + f * agg_row["bb_bytes_prunable"]
    bb_read = agg_row["bb_read_fixed"] + f * agg_row["bb_read_prunable"]
    tasks = s["n_tasks"] * agg_row["task_bytes_per_task"] + agg_row["task_bytes_fixed"]
    design = s["design"]
    a_tech, b_bytes, b_read, reload = cfg.sram, 0.0, 0.0, 0.0
    if design == "all_sram":
        a_bytes, a_read, macs = bb + tasks, bb_read + agg_row["task_read"], agg_row["bb_macs"] + agg_row["task_macs"]
    elif design == "dram_reload":
        a_bytes = bb + agg_row["plain_task_bytes"]
        a_read = bb_read + agg_row["plain_task_read"]
        macs = agg_row["bb_macs"] + agg_row["plain_task_macs"]
        reload = a_bytes
    elif design == "hetero":
        a_tech, a_bytes, a_read = s["backbone_tech"], bb, bb_read
        b_bytes, b_read = tasks, agg_row["task_read"]
        macs = agg_row["bb_macs"] + agg_row["task_macs"]
    else:
        raise LmreproError(f"unknown design {design!r}")
    ta, tb = rows[a_tech], rows[cfg.sram]
    if cfg.scaling == "tile":
        n_a, n_b = math_ceil(a_bytes / ta["capacity_bytes"]), math_ceil(b_bytes / tb["capacity_bytes"])
    else:
        n_a, n_b = a_bytes / ta["capacity_bytes"], b_bytes / tb["capacity_bytes"]
    words_a, words_b = a_read * 8 / ta["word_bits"], b_read * 8 / tb["word_bits"]
    e_read = (words_a * ta["read_energy_pj"] + words_b * tb["read_energy_pj"]) * 1e-6
    e_mac = macs * cfg.e_mac_pj * 1e-6
    t_compute = macs / (cfg.macs_per_cycle * cfg.clock_ghz * 1e9)
    t_mem = (words_a * ta["read_latency_ns"] / max(n_a, 1.0) + words_b * tb["read_latency_ns"] / max(n_b, 1.0)) * 1e-9
    t_active = max(t_compute, t_mem) + s["switch_rate"] * reload / (cfg.dram_gb_per_s * 1e9)
    period = 1.0 / s["rate_hz"]
    t_on = max(period, t_active)
    gated = design == "hetero" and cfg.nvm_power_gating
    e_leak = (n_a * ta["leakage_mw"] * 1e-3 * (t_active if gated else t_on) + n_b * tb["leakage_mw"] * 1e-3 * t_on) * 1e6
    e_reload = s["switch_rate"] * (reload * 8 * cfg.dram_pj_per_bit + reload * 8 / ta["word_bits"] * ta["write_energy_pj"]) * 1e-6
    return {
        "read_uj": e_read,
        "mac_uj": e_mac,
        "leak_uj": e_leak,
        "reload_uj": e_reload,
        "total_uj": e_read + e_mac + e_leak + e_reload,
        "latency_ms": t_active * 1e3,
        "area_mm2": n_a * ta["area_mm2"] + n_b * tb["area_mm2"],
    }


def math_ceil(x: float) -> float:
    return float(np.ceil(x))


def simulate_loop(grid: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: EnergyConfig) -> pd.DataFrame:
    """`simulate_one` over every row (slow reference)."""
    agg = {(r["model"], r["bottleneck"]): r for r in aggregate(workload).to_dict("records")}
    names = {cfg.sram, *grid.loc[grid.design == "hetero", "backbone_tech"]}
    rows = {t: techmod.select(table, t, cfg.target, cfg.cell_case).to_dict() for t in names}
    out = [simulate_one(s, agg[(s["model"], s["bottleneck"])], rows, cfg) for s in grid.to_dict("records")]
    return pd.DataFrame(out, index=grid.index)


# ---------------------------------------------------------------------------- summaries


def savings(results: pd.DataFrame, keys=("model", "bottleneck", "n_tasks", "rate_hz", "switch_rate", "sparsity")) -> pd.DataFrame:
    """Energy and area of each baseline divided by each heterogeneous design's, per scenario."""
    keys = list(keys)
    base = results[results.design != "hetero"].pivot_table(
        index=keys, columns="design", values=["total_uj", "area_mm2"], aggfunc="first"
    )
    het = results[results.design == "hetero"].set_index(keys)
    out = []
    for baseline in sorted(set(results.design) - {"hetero"}):
        b = base.xs(baseline, axis=1, level="design").reindex(het.index)
        out.append(
            pd.DataFrame(
                {
                    "backbone_tech": het.backbone_tech.to_numpy(),
                    "baseline": baseline,
                    "energy_saving": (b["total_uj"] / het["total_uj"]).to_numpy(),
                    "area_saving": (b["area_mm2"] / het["area_mm2"]).to_numpy(),
                },
                index=het.index,
            ).reset_index()
        )
    return pd.concat(out, ignore_index=True)
