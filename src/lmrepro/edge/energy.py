"""Energy, latency and area of N-task encoder inference on six on-chip memory designs.

NVMExplorer-style model (papers.md section 4), per inference:

    E = E_read + E_mac + E_leak + E_reload + E_standby
    E_read    = sum over memories of word reads x read energy per access
    E_mac     = MACs x energy per 8-bit MAC
    E_leak    = sum over on-chip memories of leakage power x powered time
    E_reload  = weights moved onto the chip: off-chip bits x energy per bit + on-chip word
                writes x write energy per access (+ the off-chip store's wake-up energy)
    E_standby = standby power of the off-chip store x its capacity x the period 1/rate

Designs (``design`` column; ``backbone_tech`` = the on-chip technology holding the
backbone, ``offchip`` = the off-chip store the design refills from, or "none"):

- ``all_sram``       backbone + N tasks' adapters/heads in one SRAM; no reloads. SRAM is
                     volatile, so it leaks for the whole period 1/rate.
- ``dram_reload``    plain fine-tuning: one full model per task in DRAM, the current one in
                     SRAM; each task switch reloads the whole model (backbone + head) from
                     DRAM. DRAM standby is not charged (the model as first built: favours it).
- ``dram_reload_sr`` the same with the DRAM's self-refresh power charged for the whole
                     period (N models held), and a self-refresh exit on each reload.
- ``hetero``         the shared backbone in an eNVM (``backbone_tech``), the N tasks'
                     adapters and heads in SRAM. The eNVM keeps its data unpowered, so with
                     ``nvm_power_gating`` it leaks only while an inference runs.
- ``gated_sram``     an SRAM holding the backbone + the current task's adapters/head, power-
                     gated between inferences (leaks only while active) and so refilled from
                     the off-chip store (``offchip``: DRAM or flash, ``gated_refill_from``)
                     on every wake-up: wake-up + transfer + SRAM writes each inference; the
                     store (backbone + N tasks) is charged its standby power.
- ``all_envm``       backbone AND adapters in the eNVM: one resident task slot (adapters +
                     head of the current task; task parts shared by all tasks stay resident);
                     the N tasks' own parts live in the off-chip ``adapter_store``. A task
                     switch reads the new task's parts from the store and WRITES them into
                     the eNVM (NVSim write energy per access and
                     write latency, spread over the arrays). Writes wear the cells: the slot
                     is rewritten switch_rate x rate times per second, so its lifetime is
                     endurance / (switch_rate x rate) (``lifetime_years``; inf for every
                     design that never writes its eNVM).

An off-chip store is (energy per bit, bandwidth, wake-up time, standby power per Gbit); its
wake-up energy is its active transfer power x the wake-up time. All numbers are params
(edge.energy) with their sources.

Latency: a weight-stationary accelerator with ``macs_per_cycle`` MACs at ``clock_ghz``,
overlapping compute with weight reads (double-buffered): max(compute, reads), reads spread
over the memory's arrays (banks read in parallel, at least one); moving weights on chip
(reloads, refills, eNVM writes) adds its expected time per inference. If the active time
exceeds the period 1/rate the point is flagged infeasible and the leakage is charged for
the active time.

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

DESIGNS = ("all_sram", "dram_reload", "hetero", "dram_reload_sr", "gated_sram", "all_envm")
BASELINES = ("all_sram", "dram_reload")  # what the heterogeneous design's savings are quoted against
PER_ENVM = ("hetero", "all_envm")  # designs evaluated once per eNVM technology
OFFCHIP = ("DRAM", "flash")
COMPONENTS = ("read_uj", "mac_uj", "leak_uj", "reload_uj", "standby_uj")
SECONDS_PER_YEAR = 365.25 * 86400


@dataclass(frozen=True)
class OffChipStore:
    """An off-chip weight store (see module docstring)."""

    pj_per_bit: float  # transfer energy per bit (interface + array)
    gb_per_s: float  # transfer bandwidth, GB/s
    wakeup_us: float  # exit from its low-power state before a transfer
    standby_mw_per_gbit: float  # low-power-state power per Gbit held

    def active_w(self) -> float:
        """Power while transferring: energy per bit x bits per second."""
        return self.pj_per_bit * 1e-12 * self.gb_per_s * 8e9

    def wakeup_uj(self) -> float:
        return self.active_w() * self.wakeup_us  # W x us = uJ


@dataclass(frozen=True)
class EnergyConfig:
    """Knobs of the energy model; sources in the field comments (and in params.yaml)."""

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
    # DRAM self-refresh exit, tXSR = tRFCab + 7.5 ns = 280 + 7.5 ns (LPDDR4 8 Gb, JEDEC JESD209-4)
    dram_wakeup_us: float = 0.2875
    # Micron MT46H32M32LG 1 Gb mobile LPDDR: IDD6 self-refresh, full array, 45 C, 500 uA x 1.8 V
    dram_standby_mw_per_gbit: float = 0.9
    # Winbond W25Q128JV 128 Mb quad-SPI NOR flash (see params.yaml for the derivations)
    flash: OffChipStore = OffChipStore(pj_per_bit=112.8, gb_per_s=0.0665, wakeup_us=3.0,
                                       standby_mw_per_gbit=0.0234)
    gated_refill_from: tuple[str, ...] = ("DRAM", "flash")  # gated_sram refill sources evaluated
    adapter_store: str = "flash"  # all_envm: where the N tasks' adapters live
    # write cycles per cell before wear-out (sources in params.yaml)
    envm_endurance: dict = field(default_factory=lambda: {"RRAM": 1.0e4, "STT": 1.0e6, "PCM": 1.0e9})

    def store(self, name: str) -> OffChipStore:
        if name == "DRAM":
            return OffChipStore(self.dram_pj_per_bit, self.dram_gb_per_s, self.dram_wakeup_us,
                                self.dram_standby_mw_per_gbit)
        if name == "flash":
            return self.flash
        raise LmreproError(f"edge.energy: unknown off-chip store {name!r}; expected one of {list(OFFCHIP)}")

    def endurance(self, tech: str) -> float:
        if tech not in self.envm_endurance:
            raise LmreproError(f"edge.energy.envm_endurance has no entry for {tech!r} (all_envm needs one per eNVM)")
        return float(self.envm_endurance[tech])


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


def design_rows(designs, envm, sram: str = "SRAM", refill_from=("DRAM", "flash"),
                adapter_store: str = "flash") -> list[tuple[str, str, str]]:
    """(design, backbone_tech, offchip) of every design variant the grid evaluates."""
    unknown = sorted(set(designs) - set(DESIGNS))
    if unknown:
        raise LmreproError(f"unknown design(s) {unknown}; expected some of {list(DESIGNS)}")
    rows = []
    for d in designs:
        if d == "all_sram":
            rows.append((d, sram, "none"))
        elif d in ("dram_reload", "dram_reload_sr"):
            rows.append((d, sram, "DRAM"))
        elif d == "hetero":
            rows += [(d, t, "none") for t in envm]
        elif d == "gated_sram":
            rows += [(d, sram, src) for src in refill_from]
        else:  # all_envm
            rows += [(d, t, adapter_store) for t in envm]
    return rows


def design_label(design: str, backbone_tech: str, offchip: str) -> str:
    if design in PER_ENVM:
        return f"{design}-{backbone_tech}"
    if design == "gated_sram":
        return f"{design}-{offchip}"
    return design


def make_grid(models, bottlenecks, designs, envm, sweep: SweepConfig, sram: str = "SRAM",
              refill_from=("DRAM", "flash"), adapter_store: str = "flash") -> pd.DataFrame:
    """Cartesian product of the sweep; one row per scenario (baselines keep everything in `sram`)."""
    variants = design_rows(designs, envm, sram, refill_from, adapter_store)
    parts = {
        "model": list(models),
        "bottleneck": list(bottlenecks),
        "design_idx": list(range(len(variants))),
        "n_tasks": list(sweep.n_tasks),
        "rate_hz": list(sweep.rate_hz),
        "switch_rate": list(sweep.switch_rate),
        "sparsity": list(sweep.sparsity),
    }
    index = pd.MultiIndex.from_product(list(parts.values()), names=list(parts))
    grid = index.to_frame(index=False)
    for i, col in enumerate(("design", "backbone_tech", "offchip")):
        cats = list(dict.fromkeys(v[i] for v in variants))
        codes = np.array([cats.index(v[i]) for v in variants])[grid.design_idx.to_numpy()]
        grid[col] = pd.Categorical.from_codes(codes, categories=cats)  # the sweep stays numeric work
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
    """Per scenario (numpy arrays): bytes/reads of memory A (backbone store), B (task SRAM),
    and what moves on chip from off-chip stores."""
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
    n = grid.n_tasks.to_numpy(float)
    bb = w["bb_bytes_fixed"] + f * w["bb_bytes_prunable"]
    bb_read = w["bb_read_fixed"] + f * w["bb_read_prunable"]
    tasks = n * w["task_bytes_per_task"] + w["task_bytes_fixed"]  # every task's adapters/heads
    one_task = w["task_bytes_per_task"] + w["task_bytes_fixed"]  # the resident task's
    is_d = {d: design == DESIGNS.index(d) for d in DESIGNS}
    dram = is_d["dram_reload"] | is_d["dram_reload_sr"]
    plain = bb + w["plain_task_bytes"]
    a_bytes = np.select([is_d["all_sram"], dram, is_d["hetero"]], [bb + tasks, plain, bb], bb + one_task)
    a_read = np.select([dram, is_d["hetero"]], [bb_read + w["plain_task_read"], bb_read], bb_read + w["task_read"])
    return {
        "a_bytes": a_bytes,
        "a_read": a_read,
        "b_bytes": np.where(is_d["hetero"], tasks, 0.0),
        "b_read": np.where(is_d["hetero"], w["task_read"], 0.0),
        # bytes moved on chip per transfer event, and events per switch / per inference
        # all_envm rewrites only the task-specific part on a switch (task parts shared by every
        # task, e.g. a mixture's adapters, stay resident in the eNVM)
        "reload_bytes": np.select([dram, is_d["gated_sram"], is_d["all_envm"]],
                                  [plain, a_bytes, w["task_bytes_per_task"]], 0.0),
        "per_inference": is_d["gated_sram"],  # refilled on every wake-up, not only on switches
        "offchip_bytes": np.select([dram, is_d["gated_sram"], is_d["all_envm"]],
                                   [n * plain, bb + tasks, n * w["task_bytes_per_task"]], 0.0),
        "macs": w["bb_macs"] + np.where(dram, w["plain_task_macs"], w["task_macs"]),
        "is": is_d,
    }


# ---------------------------------------------------------------------------- vectorized model


def simulate(grid: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: EnergyConfig) -> pd.DataFrame:
    """Evaluate every scenario of `grid` at once (numpy); energies in uJ, time in ms."""
    _check_grid(grid)
    design = _codes(grid.design, DESIGNS, "design")
    if "offchip" not in grid.columns:
        raise LmreproError("sweep grid lacks column 'offchip' (build it with make_grid)")
    m = _memories(grid, aggregate(workload), design)
    on_envm = m["is"]["hetero"] | m["is"]["all_envm"]
    envm_techs = sorted(set(pd.unique(grid.backbone_tech[on_envm])))
    names = sorted({cfg.sram, *envm_techs})
    rows = {t: techmod.select(table, t, cfg.target, cfg.cell_case) for t in names}
    tech_code = np.where(on_envm, _codes(grid.backbone_tech, [*names, *sorted(set(grid.backbone_tech.unique()) - set(names))],
                                         "technology"), names.index(cfg.sram))

    def col(name):  # per-scenario value of memory A's characterization
        return np.array([float(rows[t][name]) for t in names])[tech_code]

    used_stores = sorted(set(pd.unique(grid.offchip)) - {"none"})
    store_code = _codes(grid.offchip, ["none", *used_stores], "off-chip store") - 1  # -1: none
    stores = [cfg.store(x) for x in used_stores]

    def store_col(fn):  # per-scenario value of the design's off-chip store (0 where none)
        return np.array([*(fn(st) for st in stores), 0.0])[store_code]

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
    rate = grid.rate_hz.to_numpy(float)
    period = 1.0 / rate
    is_d = m["is"]
    # transfers: events per inference x (off-chip bits + on-chip word writes [+ store wake-up])
    events = np.where(m["per_inference"], 1.0, sw)
    moved = m["reload_bytes"]
    write_words = moved * 8.0 / word_a
    woken = is_d["dram_reload_sr"] | is_d["gated_sram"] | is_d["all_envm"]  # store idles in low power
    pj_bit = np.where(is_d["dram_reload"], cfg.dram_pj_per_bit, store_col(lambda st: st.pj_per_bit))
    gbps = np.where(is_d["dram_reload"], cfg.dram_gb_per_s, store_col(lambda st: st.gb_per_s))
    wake_uj = np.where(woken, store_col(OffChipStore.wakeup_uj), 0.0)
    wake_s = np.where(woken, store_col(lambda st: st.wakeup_us), 0.0) * 1e-6
    e_reload = events * ((moved * 8.0 * pj_bit + write_words * col("write_energy_pj")) * 1e-6 + wake_uj)
    t_write = np.where(is_d["all_envm"], write_words * col("write_latency_ns") * 1e-9 / np.maximum(n_a, 1.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_transfer = events * (wake_s + np.where(moved > 0, moved / (gbps * 1e9), 0.0) + t_write)
    t_active = np.maximum(t_compute, t_mem) + t_transfer
    t_on = np.maximum(period, t_active)
    p_a = n_a * col("leakage_mw") * 1e-3  # W
    p_b = n_b * float(sram["leakage_mw"]) * 1e-3
    gated = (on_envm & cfg.nvm_power_gating) | is_d["gated_sram"]
    e_leak = (p_a * np.where(gated, t_active, t_on) + p_b * t_on) * 1e6  # J -> uJ
    charged = is_d["dram_reload_sr"] | is_d["gated_sram"] | is_d["all_envm"]
    standby_w = np.where(charged, store_col(lambda st: st.standby_mw_per_gbit), 0.0) * 1e-3 * m["offchip_bytes"] * 8 / 1e9
    e_standby = standby_w * t_on * 1e6
    endurance = np.array([cfg.endurance(t) if t in envm_techs and (is_d["all_envm"] & (tech_code == i)).any()
                          else np.inf for i, t in enumerate(names)])[tech_code]
    with np.errstate(divide="ignore"):
        lifetime = np.where(is_d["all_envm"] & (sw > 0), endurance / (sw * rate) / SECONDS_PER_YEAR, np.inf)
    store_names = ["none", *used_stores]
    key = (design * len(names) + tech_code) * len(store_names) + store_code + 1  # one integer per variant
    uniq, inv = np.unique(key, return_inverse=True)
    labels = np.array([design_label(DESIGNS[k // (len(names) * len(store_names))],
                                    names[(k // len(store_names)) % len(names)], store_names[k % len(store_names)])
                       for k in uniq])
    out = grid.copy()
    out["backbone_tech"] = pd.Categorical.from_codes(tech_code, categories=names)
    inv = inv.reshape(-1)
    if len(set(labels)) == len(labels):  # codes straight into the categories (no per-row strings)
        out["design_label"] = pd.Categorical.from_codes(inv, categories=labels)
    else:
        out["design_label"] = pd.Categorical(labels[inv])
    out["read_uj"] = e_read
    out["mac_uj"] = e_mac
    out["leak_uj"] = e_leak
    out["reload_uj"] = e_reload
    out["standby_uj"] = e_standby
    out["total_uj"] = e_read + e_mac + e_leak + e_reload + e_standby
    out["latency_ms"] = t_active * 1e3
    out["duty_cycle"] = np.minimum(t_active / period, 1.0)
    out["feasible"] = t_active <= period
    in_sram = tech_code == names.index(cfg.sram)
    out["sram_bytes"] = np.where(in_sram, a_bytes, 0.0) + b_bytes
    out["envm_bytes"] = np.where(in_sram, 0.0, a_bytes)
    out["offchip_bytes"] = m["offchip_bytes"]
    out["area_mm2"] = n_a * col("area_mm2") + n_b * float(sram["area_mm2"])
    out["lifetime_years"] = lifetime
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
    one_task = agg_row["task_bytes_per_task"] + agg_row["task_bytes_fixed"]
    design = s["design"]
    sw, period = s["switch_rate"], 1.0 / s["rate_hz"]
    a_tech, b_bytes, b_read = cfg.sram, 0.0, 0.0
    macs = agg_row["bb_macs"] + agg_row["task_macs"]
    moved, events, offchip_bytes, store = 0.0, sw, 0.0, None  # transfers onto the chip
    if design == "all_sram":
        a_bytes, a_read = bb + tasks, bb_read + agg_row["task_read"]
    elif design in ("dram_reload", "dram_reload_sr"):
        a_bytes = bb + agg_row["plain_task_bytes"]
        a_read = bb_read + agg_row["plain_task_read"]
        macs = agg_row["bb_macs"] + agg_row["plain_task_macs"]
        moved, offchip_bytes = a_bytes, s["n_tasks"] * a_bytes
        store = cfg.store("DRAM")
        if design == "dram_reload":  # the original baseline: DRAM always on, no standby charged
            store = OffChipStore(cfg.dram_pj_per_bit, cfg.dram_gb_per_s, 0.0, 0.0)
    elif design == "hetero":
        a_tech, a_bytes, a_read = s["backbone_tech"], bb, bb_read
        b_bytes, b_read = tasks, agg_row["task_read"]
    elif design == "gated_sram":
        a_bytes, a_read = bb + one_task, bb_read + agg_row["task_read"]
        moved, events, offchip_bytes, store = a_bytes, 1.0, bb + tasks, cfg.store(s["offchip"])
    elif design == "all_envm":
        a_tech, a_bytes, a_read = s["backbone_tech"], bb + one_task, bb_read + agg_row["task_read"]
        per_task = agg_row["task_bytes_per_task"]  # shared task parts stay resident
        moved, offchip_bytes, store = per_task, s["n_tasks"] * per_task, cfg.store(s["offchip"])
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
    e_reload = t_transfer = 0.0
    if store is not None:
        write_words = moved * 8 / ta["word_bits"]
        e_reload = events * ((moved * 8 * store.pj_per_bit + write_words * ta["write_energy_pj"]) * 1e-6
                             + store.wakeup_uj())
        t_write = write_words * ta["write_latency_ns"] * 1e-9 / max(n_a, 1.0) if design == "all_envm" else 0.0
        t_transfer = events * (store.wakeup_us * 1e-6 + moved / (store.gb_per_s * 1e9) + t_write)
    t_active = max(t_compute, t_mem) + t_transfer
    t_on = max(period, t_active)
    gated = (design in PER_ENVM and cfg.nvm_power_gating) or design == "gated_sram"
    e_leak = (n_a * ta["leakage_mw"] * 1e-3 * (t_active if gated else t_on) + n_b * tb["leakage_mw"] * 1e-3 * t_on) * 1e6
    e_standby = 0.0 if store is None else store.standby_mw_per_gbit * 1e-3 * offchip_bytes * 8 / 1e9 * t_on * 1e6
    lifetime = np.inf
    if design == "all_envm" and sw > 0:
        lifetime = cfg.endurance(a_tech) / (sw * s["rate_hz"]) / SECONDS_PER_YEAR
    return {
        "read_uj": e_read,
        "mac_uj": e_mac,
        "leak_uj": e_leak,
        "reload_uj": e_reload,
        "standby_uj": e_standby,
        "total_uj": e_read + e_mac + e_leak + e_reload + e_standby,
        "latency_ms": t_active * 1e3,
        "area_mm2": n_a * ta["area_mm2"] + n_b * tb["area_mm2"],
        "offchip_bytes": offchip_bytes,
        "lifetime_years": lifetime,
    }


def math_ceil(x: float) -> float:
    return float(np.ceil(x))


def simulate_loop(grid: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: EnergyConfig) -> pd.DataFrame:
    """`simulate_one` over every row (slow reference)."""
    agg = {(r["model"], r["bottleneck"]): r for r in aggregate(workload).to_dict("records")}
    names = {cfg.sram, *grid.loc[grid.design.isin(PER_ENVM), "backbone_tech"]}
    rows = {t: techmod.select(table, t, cfg.target, cfg.cell_case).to_dict() for t in names}
    out = [simulate_one(s, agg[(s["model"], s["bottleneck"])], rows, cfg) for s in grid.to_dict("records")]
    return pd.DataFrame(out, index=grid.index)


# ---------------------------------------------------------------------------- summaries


def savings(results: pd.DataFrame, keys=("model", "bottleneck", "n_tasks", "rate_hz", "switch_rate", "sparsity"),
            baselines=BASELINES) -> pd.DataFrame:
    """Energy and area of each baseline divided by each heterogeneous design's, per scenario."""
    keys = list(keys)
    base = results[results.design.isin(baselines)].pivot_table(
        index=keys, columns="design", values=["total_uj", "area_mm2"], aggfunc="first", observed=True
    )
    het = results[results.design == "hetero"].set_index(keys)
    out = []
    for baseline in sorted(set(results.design.astype(str)) & set(baselines)):
        b = base.xs(baseline, axis=1, level="design").reindex(het.index)
        out.append(
            pd.DataFrame(
                {
                    "backbone_tech": het.backbone_tech.astype(str).to_numpy(),
                    "baseline": baseline,
                    "energy_saving": (b["total_uj"] / het["total_uj"]).to_numpy(),
                    "area_saving": (b["area_mm2"] / het["area_mm2"]).to_numpy(),
                },
                index=het.index,
            ).reset_index()
        )
    return pd.concat(out, ignore_index=True)
