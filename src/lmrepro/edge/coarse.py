"""A second, coarser energy model that the simulator must agree with over the whole sweep.

Why: the simulator (energy.py) is vectorized through integer codes and lookups, where an
indexing slip would silently price one design with another's numbers. This model starts
from the totals each result row already states (bytes held in SRAM and eNVM, bytes held
off chip, active time) and prices them per bit and per second, one row at a time through
plain table joins:

    E = bits read x read pJ/bit + MACs x MAC energy
      + bits moved on chip per inference x (off-chip pJ/bit + on-chip write pJ/bit)
      + bytes held x leakage per byte x powered time + off-chip Gbit x standby x period

Per-bit energies are the NVSim per-access energies divided by the word width. It leaves
out the off-chip stores' wake-up energy (a fraction of a microjoule per wake against
millijoules per inference), so it agrees within a tolerance (``edge.energy.coarse_rtol``),
not exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrepro.edge import energy as E
from lmrepro.edge import tech as techmod
from lmrepro.errors import LmreproError

WOKEN_STANDBY = ("dram_reload_sr", "gated_sram", "all_envm")  # designs charged their store's standby


def _workload_sums(workload: pd.DataFrame) -> pd.DataFrame:
    """Per (model, bottleneck): read bytes, MACs and per-task bytes straight from the rows."""
    wl = workload
    bb, task = wl.placement == "backbone", wl.placement == "task"
    emb = wl.role == "embedding"
    sums = {
        "read_fixed": wl.read_bytes.where(bb & emb, 0.0),
        "read_prunable": wl.read_bytes.where(bb & ~emb, 0.0),
        "task_read": wl.read_bytes.where(task, 0.0),
        "plain_task_read": wl.read_bytes.where(task & wl.in_plain, 0.0),
        "bb_macs": wl.macs.where(bb, 0.0),
        "task_macs": wl.macs.where(task, 0.0),
        "plain_task_macs": wl.macs.where(task & wl.in_plain, 0.0),
        "per_task_bytes": wl.bytes.where(task & wl.per_task, 0.0),
    }
    frame = pd.DataFrame(sums).assign(model=wl.model.to_numpy(), bottleneck=wl.bottleneck.to_numpy(),
                                      weight_bits=wl.weight_bits.to_numpy())
    agg = frame.groupby(["model", "bottleneck"], as_index=False).agg(
        {**{k: "sum" for k in sums}, "weight_bits": "first"})
    return agg


def _tech_cols(table: pd.DataFrame, names, cfg: E.EnergyConfig) -> pd.DataFrame:
    rows = [techmod.select(table, t, cfg.target, cfg.cell_case) for t in names]
    return pd.DataFrame({
        "tech": list(names),
        "read_pj_bit": [float(r["read_energy_pj"]) / float(r["word_bits"]) for r in rows],
        "write_pj_bit": [float(r["write_energy_pj"]) / float(r["word_bits"]) for r in rows],
        "leak_w_byte": [float(r["leakage_mw"]) * 1e-3 / float(r["capacity_bytes"]) for r in rows],
        "capacity": [float(r["capacity_bytes"]) for r in rows],
    }).set_index("tech")


def coarse_energy(results: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: E.EnergyConfig) -> np.ndarray:
    """Energy per inference (uJ) of every result row, priced from its totals."""
    sums = _workload_sums(workload)
    r = results[["model", "bottleneck", "design", "backbone_tech", "offchip", "rate_hz", "switch_rate", "sparsity",
                 "sram_bytes", "envm_bytes", "offchip_bytes", "latency_ms"]].copy()
    for c in ("design", "backbone_tech", "offchip", "model"):
        r[c] = r[c].astype(str)
    r = r.merge(sums, on=["model", "bottleneck"], how="left", validate="many_to_one")
    if r.read_fixed.isna().any():
        raise LmreproError("coarse energy model: a result row has no workload (model, bottleneck)")
    techs = _tech_cols(table, sorted({cfg.sram, *r.loc[r.envm_bytes > 0, "backbone_tech"]}), cfg)
    sram = techs.loc[cfg.sram]
    nv = techs.reindex(r.backbone_tech.where(r.envm_bytes > 0, cfg.sram))
    d = r.design.to_numpy()
    f = E.prune_factor(r.sparsity.to_numpy(), r.weight_bits.to_numpy())
    bb_read = r.read_fixed.to_numpy() + f * r.read_prunable.to_numpy()
    dram = np.isin(d, ("dram_reload", "dram_reload_sr"))
    task_read = np.where(dram, r.plain_task_read, r.task_read)
    macs = r.bb_macs.to_numpy() + np.where(dram, r.plain_task_macs, r.task_macs)
    # reads: hetero reads the backbone from the eNVM and the tasks from SRAM; all_envm reads all from the eNVM
    envm_read = np.select([d == "hetero", d == "all_envm"], [bb_read, bb_read + task_read], 0.0)
    sram_read = bb_read + task_read - envm_read
    e_read = (sram_read * 8 * sram.read_pj_bit + envm_read * 8 * nv.read_pj_bit.to_numpy()) * 1e-6
    e_mac = macs * cfg.e_mac_pj * 1e-6
    # bytes moved on chip per inference, and the pJ/bit of moving them
    sw = r.switch_rate.to_numpy()
    moved = np.select([d == "gated_sram", dram, d == "all_envm"],
                      [r.sram_bytes, r.sram_bytes * sw, r.per_task_bytes * sw], 0.0)
    store_pj = np.array([cfg.dram_pj_per_bit if o == "DRAM" else cfg.flash.pj_per_bit if o == "flash" else 0.0
                         for o in r.offchip])
    write_pj = np.where(d == "all_envm", nv.write_pj_bit.to_numpy(), sram.write_pj_bit)
    e_move = moved * 8 * (store_pj + write_pj) * 1e-6
    # leakage: bytes held (whole arrays under the 'tile' rule) x leakage per byte x powered time
    t_act = r.latency_ms.to_numpy() / 1e3
    t_on = np.maximum(1.0 / r.rate_hz.to_numpy(), t_act)

    def held(nbytes, cap):
        return np.ceil(nbytes / cap) * cap if cfg.scaling == "tile" else nbytes

    sram_time = np.where(d == "gated_sram", t_act, t_on)
    envm_time = t_act if cfg.nvm_power_gating else t_on
    e_leak = (held(r.sram_bytes.to_numpy(), sram.capacity) * sram.leak_w_byte * sram_time
              + held(r.envm_bytes.to_numpy(), nv.capacity.to_numpy()) * nv.leak_w_byte.to_numpy() * envm_time) * 1e6
    standby = np.array([cfg.dram_standby_mw_per_gbit if o == "DRAM" else cfg.flash.standby_mw_per_gbit
                        if o == "flash" else 0.0 for o in r.offchip])
    e_standby = np.where(np.isin(d, WOKEN_STANDBY), standby * 1e-3 * r.offchip_bytes * 8 / 1e9 * t_on * 1e6, 0.0)
    return e_read + e_mac + e_move + e_leak + e_standby


def agreement(results: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: E.EnergyConfig) -> dict:
    """Largest relative gap |simulator - coarse| / simulator over every result row, and where."""
    coarse = coarse_energy(results, workload, table, cfg)
    gap = np.abs(results.total_uj.to_numpy() - coarse) / results.total_uj.to_numpy()
    i = int(np.argmax(gap))
    worst = results.iloc[i]
    return {"max_rel_gap": float(gap[i]), "mean_rel_gap": float(gap.mean()), "scenarios": int(len(gap)),
            "worst": {"design_label": str(worst.design_label), "model": str(worst.model),
                      "n_tasks": int(worst.n_tasks), "rate_hz": float(worst.rate_hz),
                      "switch_rate": float(worst.switch_rate), "sparsity": float(worst.sparsity)}}
