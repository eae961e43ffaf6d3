"""One-at-a-time sensitivity and the inputs' sources (edge/sensitivity.py)."""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lmrepro.config import from_dict
from lmrepro.edge import energy as E
from lmrepro.edge import region as R
from lmrepro.edge import sensitivity as S
from lmrepro.errors import LmreproError
from tests.edge.test_energy import toy_workload
from tests.edge.test_region import CONTEST, REGION, toy_grid

REPO = Path(__file__).resolve().parents[2]


def params_energy() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())["edge"]["energy"]


def test_with_value_replaces_nested_constants_and_checks_types():
    cfg = E.EnergyConfig()
    assert S.with_value(cfg, "flash.wakeup_us", 30.0).flash.wakeup_us == 30.0
    assert S.with_value(cfg, "envm_endurance.RRAM", 5.0).envm_endurance["RRAM"] == 5.0
    assert S.with_value(cfg, "macs_per_cycle", 256).macs_per_cycle == 256
    assert S.with_value(cfg, "scaling", "tile").scaling == "tile"
    assert cfg.flash.wakeup_us == 3.0 and cfg.envm_endurance["RRAM"] == 1e4  # the original is untouched
    with pytest.raises(LmreproError, match="no constant 'flash.volts'"):
        S.with_value(cfg, "flash.volts", 1.0)
    with pytest.raises(LmreproError, match="true/false"):
        S.with_value(cfg, "nvm_power_gating", 0)
    with pytest.raises(LmreproError, match="positive number"):
        S.with_value(cfg, "e_mac_pj", -1.0)


def test_parse_knobs_needs_values_and_a_source():
    cfg = E.EnergyConfig()
    assert S.parse_knobs({"clock_ghz": {"values": [0.5], "source": "s"}}, cfg)[0].values == (0.5,)
    with pytest.raises(LmreproError, match="edge.energy.sensitivity.clock_ghz: needs 'values'"):
        S.parse_knobs({"clock_ghz": {"values": [0.5], "source": " "}}, cfg)
    with pytest.raises(LmreproError, match="no constant 'clock_mhz'"):
        S.parse_knobs({"clock_mhz": {"values": [500], "source": "s"}}, cfg)


def test_params_cite_every_constant_and_every_range():
    """params.yaml: every constant has a source (citation or 'assumption'), every range parses
    and has its own source; the assumptions are the ones the issue names as assumed."""
    p = dict(params_energy())
    sources, sens = p.pop("sources"), p.pop("sensitivity")
    for key in ("sweep", "reference", "map_rates", "coarse_rtol"):
        p.pop(key)
    cfg = from_dict(E.EnergyConfig, p)
    knobs = S.parse_knobs(sens, cfg)
    table = {r["constant"]: r for r in S.input_table(cfg, sources, knobs)}
    assert {"clock_ghz", "macs_per_cycle", "scaling", "nvm_power_gating"} <= {k for k, r in table.items()
                                                                             if r["assumption"] == "yes"}
    assert table["dram_standby_mw_per_gbit"]["assumption"] == "partly"  # an older LPDDR part's datasheet
    assert table["flash.gb_per_s"]["assumption"] == "no"
    assert {"e_mac_pj", "dram_pj_per_bit", "dram_wakeup_us", "flash.wakeup_us", "dram_gb_per_s", "clock_ghz",
            "scaling", "nvm_power_gating"} <= {k.name for k in knobs}
    with pytest.raises(LmreproError, match="no source for flash.wakeup_us"):
        S.input_table(cfg, {k: v for k, v in sources.items() if k != "flash.wakeup_us"}, knobs)
    with pytest.raises(LmreproError, match="unknown constant"):
        S.input_table(cfg, {**sources, "volts": "x"}, knobs)


def study(tech_table, knobs):
    grid = toy_grid()
    at_ref = grid[(grid.n_tasks == 8) & (grid.rate_hz == 1.0) & (grid.switch_rate == 0.1)]
    return S.one_at_a_time(at_ref, grid[REGION.contains(grid)], toy_workload(), tech_table, E.EnergyConfig(), knobs,
                           [CONTEST], REGION)


def test_one_at_a_time_saving_against_the_strongest_competitor(tech_table):
    knobs = [S.Knob("dram_pj_per_bit", (8.0, 5000.0), "s"), S.Knob("nvm_power_gating", (False,), "s")]
    got = study(tech_table, knobs)
    assert list(got.knob) == ["dram_pj_per_bit", "dram_pj_per_bit", "nvm_power_gating"]
    same = got.iloc[0]  # the params value itself: the base saving again
    assert same.saving == pytest.approx(same.base_saving, rel=1e-12) and same.strongest == same.base_strongest
    # base saving by hand: cheapest serving competitor / hetero at the reference point
    r = E.simulate(toy_grid().query("n_tasks == 8 and rate_hz == 1.0 and switch_rate == 0.1"), toy_workload(),
                   tech_table, E.EnergyConfig())
    r = r[R.serves(r, REGION)].set_index(r[R.serves(r, REGION)].design_label.astype(str)).total_uj
    comps = r.reindex([d for _, d in CONTEST.competitors]).dropna()
    assert same.base_saving == pytest.approx(comps.min() / r["hetero-RRAM"], rel=1e-12)
    assert same.base_strongest == comps.idxmin()
    # the costly DRAM makes refilling from DRAM dearer: the strongest competitor can only get dearer
    assert got.iloc[1].saving >= same.base_saving
    assert got.iloc[2].saving < same.base_saving  # an always-on eNVM leaks: hetero dearer


def test_survives_names_the_changes_that_flip_the_sign():
    rows = [dict(claim="c", model="m", technology="T", knob=k, value=v, saving=s, strongest="x", region_win_share=0.0,
                 base_saving=0.5, base_strongest="x", base_region_win_share=0.0)
            for k, v, s in (("a", "1", 0.4), ("a", "2", 0.6), ("b", "x", 1.5))]
    out = S.survives(pd.DataFrame(rows)).iloc[0]
    assert not out.sign_survives and out.flips == ["b=x"] and not out.hetero_wins_at_base
    rows[2]["saving"] = 0.9
    out = S.survives(pd.DataFrame(rows)).iloc[0]
    assert out.sign_survives and out.flips == [] and out.min_saving == 0.4 and out.max_saving == 0.9


def test_tornado_data_is_schema_checked(tmp_path):
    bad = pd.DataFrame([dict(claim="c", model="m", technology="T", knob="a", value="1", saving=-1.0, strongest="x",
                             region_win_share=0.0, base_saving=0.5, base_strongest="x", base_region_win_share=0.0)])
    with pytest.raises(LmreproError, match="saving"):
        R.write_csv(bad, tmp_path / "t.csv", S.TornadoTable)


def test_unchanged_config_is_not_mutated(tech_table):
    cfg = E.EnergyConfig()
    before = dataclasses.asdict(cfg)
    study(tech_table, [S.Knob("envm_endurance.RRAM", (1.0,), "s")])
    assert dataclasses.asdict(cfg) == before
