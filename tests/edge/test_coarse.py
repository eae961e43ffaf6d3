"""The coarse second model agrees with the simulator over the whole default sweep (edge/coarse.py)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from transformers import AlbertConfig

from lmrepro.config import from_dict
from lmrepro.edge import coarse
from lmrepro.edge import energy as E
from lmrepro.edge import workload as W
from tests.edge.test_energy import toy_workload

REPO = Path(__file__).resolve().parents[2]


def default_setup():
    """The default profile's sweep (all adapter sizes, pruning levels) for ALBERT-base-v2."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())["edge"]
    section = dict(params["energy"])
    sw = section.pop("sweep")
    rtol = section.pop("coarse_rtol")
    for key in ("reference", "map_rates", "sources", "sensitivity"):
        section.pop(key)
    cfg = from_dict(E.EnergyConfig, section)
    wcfg = params["workload"]
    shape = W.shape_from_config(AlbertConfig(**wcfg["albert"]))
    workload = pd.concat([W.encoder_workload("albert", shape, W.WorkloadConfig(bottleneck=m, seq_len=wcfg["seq_len"]))
                          for m in wcfg["bottlenecks"]])
    sweep = E.SweepConfig(tuple(sw["n_tasks"]), tuple(sw["rate_hz"]), tuple(sw["switch_rate"]),
                          (0.0, *params["prune"]["sparsities"]))
    grid = E.make_grid(["albert"], wcfg["bottlenecks"], E.DESIGNS, cfg.envm, sweep, sram=cfg.sram,
                       refill_from=cfg.gated_refill_from, adapter_store=cfg.adapter_store)
    return cfg, workload, grid, rtol


@pytest.mark.parametrize("variant", [{}, {"scaling": "tile"}, {"nvm_power_gating": False}])
def test_coarse_model_agrees_over_the_whole_default_sweep(tech_table, variant):
    cfg, workload, grid, rtol = default_setup()
    cfg = dataclasses.replace(cfg, **variant)
    results = E.simulate(grid, workload, tech_table, cfg)
    check = coarse.agreement(results, workload, tech_table, cfg)
    assert check["scenarios"] == len(grid) and len(grid) > 10_000
    assert check["max_rel_gap"] <= rtol, check


def test_coarse_model_catches_a_simulator_slip(tech_table):
    """Price one design with another's eNVM (the slip the coarse model guards against): caught."""
    cfg = E.EnergyConfig()
    grid = E.make_grid(["toy"], [8], E.DESIGNS, ("RRAM", "PCM"),
                       E.SweepConfig(n_tasks=(1, 8), rate_hz=(0.1, 10.0), switch_rate=(0.0, 0.5)))
    results = E.simulate(grid, toy_workload(), tech_table, cfg)
    assert coarse.agreement(results, toy_workload(), tech_table, cfg)["max_rel_gap"] < 1e-3
    slipped = results.copy()
    rram = (slipped.design_label == "hetero-RRAM").to_numpy()
    pcm = (slipped.design_label == "hetero-PCM").to_numpy()
    slipped.loc[rram, "total_uj"] = results.loc[pcm, "total_uj"].to_numpy()
    assert coarse.agreement(slipped, toy_workload(), tech_table, cfg)["max_rel_gap"] > 1e-2
    # and a wake-up energy far above the datasheet's is the one thing it leaves out: visible as a gap
    slow = dataclasses.replace(cfg, dram_wakeup_us=5e4)
    gap = coarse.agreement(E.simulate(grid, toy_workload(), tech_table, slow), toy_workload(), tech_table, slow)
    assert gap["max_rel_gap"] > 1e-3 and gap["worst"]["design_label"].startswith(("gated_sram", "dram_reload_sr"))
    assert np.isfinite(gap["mean_rel_gap"])
