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
                design="hetero", backbone_tech="RRAM")
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
    r = E.simulate(scenario(design="dram_reload", backbone_tech="SRAM"), toy_workload(), tech_table,
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
