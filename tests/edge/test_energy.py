import dataclasses

import numpy as np
import pandas as pd
import pytest
from transformers import AlbertConfig

from lmrepro.edge import energy as E
from lmrepro.edge import workload as W
from lmrepro.edge.schemas import EnergyResults
from lmrepro.errors import LmreproError

MiB = 2**20


def toy_workload() -> pd.DataFrame:
    """A hand-sized workload: a 2 MiB backbone read once, 256 KiB of adapters per task."""
    rows = [
        # role, placement, per_task, params, read_params, macs, in_plain
        ("embedding", "backbone", False, 0, 0, 0, True),
        ("layers", "backbone", False, 2 * MiB, 2 * MiB, 1_000_000_000, True),
        ("adapters", "task", True, MiB // 4, MiB // 4, 100_000_000, False),
        ("head", "task", True, 0, 0, 0, True),
    ]
    return W._table("toy", rows, 8, W.WorkloadConfig(bottleneck=8))


def albert_workload(bottlenecks=(8, 64)):
    shape = W.shape_from_config(AlbertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072))
    return pd.concat([W.encoder_workload("albert", shape, W.WorkloadConfig(bottleneck=m)) for m in bottlenecks])


def scenario(**kw):
    base = dict(model="toy", bottleneck=8, n_tasks=4, rate_hz=10.0, switch_rate=0.5, sparsity=0.0,
                design="hetero", backbone_tech="RRAM", offchip="none")
    base.update(kw)
    return pd.DataFrame([base])


def test_worked_example_hetero_rram(tech_table):
    """Hand computation (ReadEDP, best cell; RRAM 6.178 pJ, 0.793295 ns, 11.979 mW, 0.525829 mm2;
    SRAM 1.128 pJ, 4.684 ns, 56.345 mW, 1.309 mm2; 2 MiB arrays, 64-bit words):
      backbone: 2 MiB in RRAM = 1 array, 2 MiB * 8 / 64 = 262144 word reads
      adapters: 4 tasks x 256 KiB = 1 MiB SRAM = 0.5 array, 256 KiB * 8 / 64 = 32768 word reads
      read  = 262144 * 6.178 + 32768 * 1.128 pJ         = 1.6564879 uJ
      MAC   = 1.1e9 * 0.23 pJ                            = 253 uJ
      t_cmp = 1.1e9 / (1024 * 1e9)                       = 1.07421875 ms
      t_mem = 262144 * 0.793295 + 32768 * 4.684 ns       = 0.3614429 ms  -> active 1.07421875 ms
      leak  = 11.979 mW * 1.07421875 ms (gated RRAM) + 0.5 * 56.345 mW * 100 ms = 2830.1179 uJ
      area  = 0.525829 + 0.5 * 1.309                     = 1.180329 mm2
    """
    r = E.simulate(scenario(), toy_workload(), tech_table, E.EnergyConfig()).iloc[0]
    assert r.read_uj == pytest.approx(1.6564879, rel=1e-6)
    assert r.mac_uj == pytest.approx(253.0, rel=1e-9)
    assert r.leak_uj == pytest.approx(11.979e-3 * 1.07421875e-3 * 1e6 + 0.5 * 56.345e-3 * 0.1 * 1e6, rel=1e-9)
    assert r.leak_uj == pytest.approx(2830.1179, rel=1e-6)
    assert r.reload_uj == 0.0
    assert r.total_uj == pytest.approx(1.6564879 + 253.0 + 2830.1179, rel=1e-6)
    assert r.latency_ms == pytest.approx(1.07421875, rel=1e-9)
    assert r.area_mm2 == pytest.approx(1.180329, rel=1e-6)
    assert r.envm_bytes == 2 * MiB and r.sram_bytes == MiB


def test_worked_example_reload(tech_table):
    """dram_reload: 2 MiB plain model, half the inferences switch task:
    0.5 * (2 MiB * 8 bit * 8 pJ + 262144 words * 17.016 pJ SRAM write) = 0.5 * (134217728 + 4460642.3) pJ = 69.339185 uJ."""
    r = E.simulate(scenario(design="dram_reload", backbone_tech="SRAM", offchip="DRAM"), toy_workload(), tech_table,
                   E.EnergyConfig()).iloc[0]
    assert r.reload_uj == pytest.approx(0.5 * (2 * MiB * 8 * 8.0 + 262144 * 17.016) * 1e-6, rel=1e-9)
    assert r.reload_uj == pytest.approx(69.339185, rel=1e-6)
    assert r.mac_uj == pytest.approx(230.0)  # plain model: no adapter MACs


def full_grid(**kw):
    sweep = E.SweepConfig(n_tasks=(1, 4, 16, 64), rate_hz=(0.1, 1.0, 30.0), switch_rate=(0.0, 0.2, 1.0),
                          sparsity=(0.0, 0.5))
    return E.make_grid(["albert"], [8, 64], E.DESIGNS, ("RRAM", "STT", "PCM"), sweep)


@pytest.mark.parametrize("cfg", [E.EnergyConfig(), E.EnergyConfig(scaling="tile", nvm_power_gating=False)])
def test_vectorized_matches_loop_reference(tech_table, cfg):
    grid = full_grid()
    vec = EnergyResults.validate(E.simulate(grid, albert_workload(), tech_table, cfg))
    ref = E.simulate_loop(grid, albert_workload(), tech_table, cfg)
    for col in ref.columns:
        np.testing.assert_allclose(vec[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12, err_msg=col)


def test_components_add_up(tech_table):
    r = E.simulate(full_grid(), albert_workload(), tech_table, E.EnergyConfig())
    np.testing.assert_allclose(r[list(E.COMPONENTS)].sum(axis=1), r.total_uj, rtol=1e-12)


def test_memories_add_up(tech_table):
    """An 'eNVM' that is really SRAM and not power-gated is the all-SRAM design (linear scaling)."""
    cfg = E.EnergyConfig(nvm_power_gating=False)
    grid = E.make_grid(["albert"], [64], ("all_sram", "hetero"), ("SRAM",), E.SweepConfig())
    r = E.simulate(grid, albert_workload((64,)), tech_table, cfg)
    a, h = r[r.design == "all_sram"].reset_index(), r[r.design == "hetero"].reset_index()
    for col in ("read_uj", "mac_uj", "leak_uj", "total_uj", "area_mm2"):
        np.testing.assert_allclose(a[col], h[col], rtol=1e-12, err_msg=col)


def _sorted_by(r, key, group_cols):
    return r.sort_values([*group_cols, key]).groupby(group_cols, sort=False)


def test_monotone_where_it_must_be(tech_table):
    r = E.simulate(full_grid(), albert_workload(), tech_table, E.EnergyConfig())
    keys = ["bottleneck", "design_label", "rate_hz", "switch_rate", "sparsity", "n_tasks"]

    def diffs(col, along):
        others = [k for k in keys if k != along]
        return r.sort_values([*others, along]).groupby(others)[col].diff().dropna()

    assert (diffs("total_uj", "n_tasks") >= 0).all()  # more tasks never cost less
    assert (diffs("area_mm2", "n_tasks") >= 0).all()
    assert (diffs("total_uj", "switch_rate") >= 0).all()
    assert (diffs("total_uj", "bottleneck") >= 0).all()
    assert (diffs("leak_uj", "rate_hz") <= 0).all()  # leakage per inference falls as rate rises
    dram = r[r.design == "dram_reload"]
    assert dram.groupby([k for k in keys if k != "n_tasks"]).total_uj.nunique().eq(1).all()
    # pruning at 50% with a bitmask stores (1 + 4) / 8 of the dense bytes
    het = r[(r.design == "hetero") & (r.n_tasks == 1)]
    dense, pruned = het[het.sparsity == 0].envm_bytes.to_numpy(), het[het.sparsity == 0.5].envm_bytes.to_numpy()
    assert (pruned < dense).all()


def test_prune_factor():
    assert E.prune_factor(0.0, 8) == 1.0
    assert E.prune_factor(0.5, 8) == pytest.approx(5 / 8)
    assert E.prune_factor(0.9, 8) == pytest.approx(1.8 / 8)
    with pytest.raises(LmreproError, match="sparsity"):
        E.prune_factor(1.0, 8)


def test_bad_inputs_are_clear_errors(tech_table):
    with pytest.raises(LmreproError, match="switch_rate"):
        E.simulate(scenario(switch_rate=2.0), toy_workload(), tech_table, E.EnergyConfig())
    with pytest.raises(LmreproError, match="FeFET"):
        E.simulate(scenario(backbone_tech="FeFET"), toy_workload(), tech_table, E.EnergyConfig())
    with pytest.raises(LmreproError, match="no workload"):
        E.simulate(scenario(bottleneck=99), toy_workload(), tech_table, E.EnergyConfig())
    with pytest.raises(LmreproError, match="design"):
        E.simulate(scenario(design="tpu"), toy_workload(), tech_table, E.EnergyConfig())


def test_savings_are_baseline_over_hetero(tech_table):
    r = E.simulate(full_grid(), albert_workload(), tech_table, E.EnergyConfig())
    s = E.savings(r)
    one = s[(s.baseline == "all_sram") & (s.backbone_tech == "RRAM") & (s.n_tasks == 4) & (s.rate_hz == 1.0)
            & (s.switch_rate == 0.2) & (s.sparsity == 0.0) & (s.bottleneck == 64)].iloc[0]
    sel = r[(r.n_tasks == 4) & (r.rate_hz == 1.0) & (r.switch_rate == 0.2) & (r.sparsity == 0.0) & (r.bottleneck == 64)]
    het = sel[sel.design_label == "hetero-RRAM"].total_uj.iloc[0]
    base = sel[sel.design == "all_sram"].total_uj.iloc[0]
    assert one.energy_saving == pytest.approx(base / het)


# ---------------------------------------------------------------------------- the designs of issue 16


def test_raw_csv_values_behind_the_hand_computations(nvm_dir, tech_table):
    """The per-access numbers the worked examples use are the raw NVMExplorer CSV's (ReadEDP, best cell)."""
    raw = pd.read_csv(nvm_dir / "RRAM_1BPC-combined.csv")
    row = E.techmod.select(tech_table, "RRAM", "ReadEDP", "best")
    for csv_col, ours, value in (("Read Energy (pJ)", "read_energy_pj", 6.178), ("Write Energy (pJ)", "write_energy_pj", 49.72),
                                 ("Write Latency (ns)", "write_latency_ns", 5.53), ("Leakage Power (mW)", "leakage_mw", 11.979)):
        assert row[ours] == pytest.approx(value, rel=1e-9)
        assert np.isclose(raw[csv_col].astype(float), value, rtol=1e-9).any(), csv_col


def test_worked_example_all_envm_rram(tech_table):
    """all_envm, RRAM (raw CSV, ReadEDP best: read 6.178 pJ / 0.793295 ns, write 49.72 pJ / 5.53 ns,
    11.979 mW, 0.525829 mm2 per 2 MiB array, 64-bit words); adapters wait in flash (112.8 pJ/bit,
    0.0665 GB/s, 3 us wake-up, 0.0234 mW/Gbit); toy workload, N=4, 10 inf/s, 0.5 switches/inf:
      eNVM holds backbone 2 MiB + one task 256 KiB = 2.25 MiB = 1.125 arrays
      read   = 2.25 MiB * 8 / 64 = 294912 words * 6.178 pJ         = 1.821966336 uJ
      MAC    = 1.1e9 * 0.23 pJ                                     = 253 uJ
      flash active power = 112.8 pJ * 0.0665e9 B/s * 8 = 60.0096 mW -> wake-up 3 us = 0.1800288 uJ
      switch = 256 KiB: 2097152 bits * 112.8 pJ + 32768 word writes * 49.72 pJ + 0.1800288 uJ
             = 238.36799936 uJ; x 0.5 switches                      = 119.18399968 uJ
      t_switch = 3 us + 262144 B / 0.0665 GB/s + 32768 * 5.53 ns / 1.125 = 4.10608796 ms; x 0.5
      active = max(1.07421875 ms compute, 0.20796 ms reads) + 2.05304398 ms = 3.12726273 ms
      leak   = 1.125 * 11.979 mW * 3.12726273 ms (power-gated)     = 42.14416529 uJ
      standby = 0.0234 mW/Gbit * 4 * 256 KiB (8388608 bits) * 100 ms = 0.01962934 uJ
      lifetime = 1e4 cycles / (0.5 * 10 /s) = 2000 s               = 6.3376e-5 years
    """
    cfg = E.EnergyConfig()
    r = E.simulate(scenario(design="all_envm", offchip="flash"), toy_workload(), tech_table, cfg).iloc[0]
    assert r.read_uj == pytest.approx(1.821966336, rel=1e-9)
    assert r.mac_uj == pytest.approx(253.0, rel=1e-12)
    assert r.reload_uj == pytest.approx(119.18399968, rel=1e-9)
    assert r.latency_ms == pytest.approx(3.1272627310, rel=1e-9)
    assert r.leak_uj == pytest.approx(42.144165287, rel=1e-9)
    assert r.standby_uj == pytest.approx(0.01962934272, rel=1e-9)
    assert r.total_uj == pytest.approx(416.16976065, rel=1e-9)
    assert r.lifetime_years == pytest.approx(6.33761756e-5, rel=1e-8)
    assert r.area_mm2 == pytest.approx(1.125 * 0.525829, rel=1e-6)  # the CSV carries more digits
    assert r.envm_bytes == 2.25 * MiB and r.sram_bytes == 0 and r.offchip_bytes == MiB
    assert r.design_label == "all_envm-RRAM"


def test_dram_self_refresh_baseline_adds_standby_and_exits(tech_table):
    """dram_reload_sr = dram_reload + N plain models' self-refresh power for the period
    + a self-refresh exit per reload (its time x the DRAM's transfer power)."""
    cfg = E.EnergyConfig()
    base = scenario(design="dram_reload", backbone_tech="SRAM", offchip="DRAM")
    a = E.simulate(base, toy_workload(), tech_table, cfg).iloc[0]
    b = E.simulate(base.assign(design="dram_reload_sr"), toy_workload(), tech_table, cfg).iloc[0]
    standby = 0.9e-3 * 4 * (2 * MiB * 8 / 1e9) * 0.1 * 1e6  # mW/Gbit x 4 models x 16.8 Mbit x 100 ms
    wake = 0.5 * 8e-12 * 12.8e9 * 8 * 0.2875  # 0.5 switches x 819.2 mW x 0.2875 us
    assert b.standby_uj == pytest.approx(standby, rel=1e-9) and a.standby_uj == 0.0
    assert b.reload_uj - a.reload_uj == pytest.approx(wake, rel=1e-9)
    assert b.offchip_bytes == 4 * 2 * MiB


def test_gated_sram_refills_every_inference(tech_table):
    """gated_sram: backbone + one task refilled per inference, whatever the switch rate; the SRAM
    leaks only while active; flash is slower than DRAM, so it leaks longer."""
    cfg = E.EnergyConfig()
    s = scenario(design="gated_sram", backbone_tech="SRAM", offchip="DRAM")
    grid = pd.concat([s, s.assign(switch_rate=0.0), s.assign(offchip="flash")], ignore_index=True)
    r = E.simulate(grid, toy_workload(), tech_table, cfg)
    assert r.total_uj[0] == pytest.approx(r.total_uj[1], rel=1e-12)
    moved = 2.25 * MiB
    assert r.reload_uj[0] == pytest.approx((moved * 8 * 8.0 + moved * 8 / 64 * 17.016) * 1e-6
                                           + 8e-12 * 12.8e9 * 8 * 0.2875, rel=1e-9)
    t_reads = moved * 8 / 64 * 4.684e-9 / 1.125  # SRAM reads (1.2288 ms) outlast the compute (1.0742 ms)
    t_active = max(1.1e9 / 1.024e12, t_reads) + 0.2875e-6 + moved / 12.8e9
    assert r.latency_ms[0] == pytest.approx(t_active * 1e3, rel=1e-9)
    assert r.leak_uj[0] == pytest.approx(1.125 * 56.345e-3 * t_active * 1e6, rel=1e-9)
    assert r.latency_ms[2] > r.latency_ms[0] and r.leak_uj[2] > r.leak_uj[0]
    assert list(r.design_label) == ["gated_sram-DRAM", "gated_sram-DRAM", "gated_sram-flash"]


def test_envm_lifetime_follows_the_switch_rate(tech_table):
    grid = E.make_grid(["toy"], [8], ("all_envm", "hetero"), ("RRAM", "STT"),
                       E.SweepConfig(n_tasks=(4,), rate_hz=(1.0, 10.0), switch_rate=(0.0, 0.1, 1.0)))
    r = E.simulate(grid, toy_workload(), tech_table, E.EnergyConfig())
    assert np.isinf(r[r.design == "hetero"].lifetime_years).all()  # read-only eNVM never wears
    env = r[r.design == "all_envm"]
    assert np.isinf(env[env.switch_rate == 0].lifetime_years).all()
    w = env[env.switch_rate > 0]
    endurance = w.backbone_tech.map({"RRAM": 1e4, "STT": 1e6}).astype(float)
    np.testing.assert_allclose(w.lifetime_years * w.switch_rate * w.rate_hz * E.SECONDS_PER_YEAR, endurance, rtol=1e-12)
    with pytest.raises(LmreproError, match="envm_endurance has no entry for 'STT'"):
        E.simulate(grid, toy_workload(), tech_table, E.EnergyConfig(envm_endurance={"RRAM": 1e4}))


def test_grid_has_every_design_variant_and_sweep_axis(tech_table):
    """The results table carries, per design variant, every (rate, tasks, switch rate, adapter size) point."""
    sweep = E.SweepConfig(n_tasks=(1, 9), rate_hz=(0.1, 10.0), switch_rate=(0.0, 1.0))
    grid = E.make_grid(["albert"], [8, 64], E.DESIGNS, ("RRAM", "STT"), sweep)
    r = EnergyResults.validate(E.simulate(grid, albert_workload(), tech_table, E.EnergyConfig()))
    labels = {"all_sram", "dram_reload", "dram_reload_sr", "hetero-RRAM", "hetero-STT", "gated_sram-DRAM",
              "gated_sram-flash", "all_envm-RRAM", "all_envm-STT"}
    assert set(r.design_label) == labels
    per = r.groupby("design_label", observed=True)[["n_tasks", "rate_hz", "switch_rate", "bottleneck"]].nunique()
    assert (per.to_numpy() == 2).all()
    assert not r.duplicated(["design_label", "bottleneck", "n_tasks", "rate_hz", "switch_rate", "sparsity"]).any()
    with pytest.raises(LmreproError, match="unknown design"):
        E.make_grid(["albert"], [8], ("all_sram", "tpu"), ("RRAM",), sweep)


def test_all_envm_rewrites_only_the_task_specific_part(tech_table):
    """A mixture model's adapters are shared by all tasks (per_task False): they stay resident in
    the eNVM; a switch moves and writes only the task's own head."""
    rows = [("embedding", "backbone", False, 0, 0, 0, True),
            ("layers", "backbone", False, 2 * MiB, 2 * MiB, 1_000_000_000, True),
            ("adapters", "task", False, MiB // 4, MiB // 4, 100_000_000, False),
            ("head", "task", True, 8192, 8192, 8192, True)]
    wl = W._table("toy", rows, 8, W.WorkloadConfig(bottleneck=8))
    r = E.simulate(scenario(design="all_envm", offchip="flash"), wl, tech_table, E.EnergyConfig()).iloc[0]
    moved = 8192
    want = 0.5 * ((moved * 8 * 112.8 + moved * 8 / 64 * 49.72) * 1e-6 + 112.8e-12 * 0.0665e9 * 8 * 3.0)
    assert r.reload_uj == pytest.approx(want, rel=1e-9)
    assert r.offchip_bytes == 4 * moved and r.envm_bytes == 2 * MiB + MiB // 4 + moved
