"""Win shares, crossover rates and the winner map over the claims' region (edge/region.py)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lmrepro.claims import engine
from lmrepro.claims.registry import Arm, Claim
from lmrepro.edge import energy as E
from lmrepro.edge import region as R
from lmrepro.edge.outcomes import energy_loader
from lmrepro.edge.schemas import EnergyResults
from lmrepro.errors import LmreproError
from lmrepro.edge import workload as W
from tests.edge.test_energy import MiB, toy_workload

REPO_CLAIMS = Path(__file__).resolve().parents[2] / "workflow" / "claims" / "edge_energy.yaml"
SWEEP = E.SweepConfig(n_tasks=(1, 2, 8, 32), rate_hz=(0.01, 0.1, 1.0, 10.0, 30.0), switch_rate=(0.0, 0.1, 1.0))
REGION = R.Region(rate_hz_max=1.0, n_tasks_min=2, sparsity=0.0, min_lifetime_years=5.0)
CONTEST = R.Contest("c-rram", "toy", "hetero-RRAM",
                    (("all-SRAM", "all_sram"), ("self-refresh", "dram_reload_sr"), ("gated DRAM", "gated_sram-DRAM"),
                     ("gated flash", "gated_sram-flash"), ("all-eNVM", "all_envm-RRAM")))


def toy_grid(sweep=SWEEP):
    return E.make_grid(["toy"], [8], E.DESIGNS, ("RRAM",), sweep)


def run(tech_table, cfg=E.EnergyConfig(), sweep=SWEEP):
    return E.simulate(toy_grid(sweep), toy_workload(), tech_table, cfg)


def test_crossover_sides():
    """E_h - E_c = dA + dB p: each sign combination, by hand."""
    rate, side = R.crossover([2.0, 1.0, 1.0, 3.0, 1.0], [1.0, 3.0, 1.0, 3.0, 1.0],
                             [1.0, 2.0, 2.0, 1.0, 1.0], [3.0, 1.0, 2.0, 1.0, 1.0])
    # dA=1,dB=-2 -> wins below 2; dA=-1,dB=2 -> above 2; dA=-1,dB=-1 -> always; dA=2,dB=2 -> never; tie -> never
    assert list(side) == ["below", "above", "always", "never", "never"]
    np.testing.assert_allclose(rate[:2], [2.0, 2.0])
    assert np.isnan(rate[2:]).all()


def test_win_intervals():
    assert R.win_intervals("below", 2.0, 10.0, None) == [[0.0, 2.0]]
    assert R.win_intervals("below", 20.0, 10.0, None) == [[0.0, 10.0]]  # crossing beyond hetero's feasible rates
    assert R.win_intervals("above", 2.0, 10.0, 0.5) == [[0.5, 10.0]]  # competitor worn out above 0.5
    assert R.win_intervals("below", 1.0, 10.0, 4.0) == [[0.0, 1.0], [4.0, 10.0]]
    assert R.win_intervals("never", None, None, None) == []
    assert R.win_intervals("always", None, None, None) == [[0.0, None]]


def test_energy_is_linear_in_the_period_and_the_crossover_equalizes(tech_table):
    """A + B / rate reproduces every feasible sweep point; at the crossover rate the two
    designs' simulated energies are equal."""
    cfg = E.EnergyConfig()
    results = run(tech_table, cfg)
    terms = R.period_terms(toy_grid(), toy_workload(), tech_table, cfg)
    assert R.check_linear(results, terms) < 1e-9
    ref = {"n_tasks": 8, "switch_rate": 0.1}
    rows = R.crossovers(terms, [CONTEST], REGION, ref, {"toy": 8})
    hit = [r for r in rows if r["crossover_hz"] is not None and r["crossover_hz"] < 1e3]
    assert hit, rows
    for r in hit:
        point = toy_grid().query("n_tasks == 8 and switch_rate == 0.1 and rate_hz == 1.0")
        at = E.simulate(point.assign(rate_hz=r["crossover_hz"]), toy_workload(), tech_table, cfg)
        at = at.set_index(at.design_label.astype(str)).total_uj
        assert at[r["hetero"]] == pytest.approx(at[r["competitor"]], rel=1e-9)


def test_check_linear_catches_a_broken_period_term(tech_table):
    cfg = E.EnergyConfig()
    terms = R.period_terms(toy_grid(), toy_workload(), tech_table, cfg)
    with pytest.raises(LmreproError, match="not A \\+ B/rate"):
        R.check_linear(run(tech_table, cfg), terms.assign(B_uj_per_s=terms.B_uj_per_s * 1.01))


def test_win_shares_match_the_claims_engine(tech_table, tmp_path):
    """The energy stage's win share per competitor is the claims engine's effect (same file, same rule)."""
    results = run(tech_table)
    path = tmp_path / "data" / "edge" / "energy.parquet"
    path.parent.mkdir(parents=True)
    EnergyResults.validate(results).to_parquet(path)
    region = dataclasses.asdict(REGION)
    region.pop("rate_hz_min")
    claim = Claim(id="x", paper="Edge", source="edge_energy", claim="c", test="t", metric="energy_per_inference_uj",
                  unit="scenario", a=Arm("h", {"model": "toy", "design_label": "hetero-RRAM"}),
                  b=tuple(Arm(lab, {"model": "toy", "design_label": d}) for lab, d in CONTEST.competitors),
                  direction="wins_region", statistic="region", alpha=0.05, min_effect=0.0, region=region)
    load = energy_loader(tmp_path)
    a = load({**claim.a.select, **claim.region}, claim.metric)
    ours = {s["competitor"]: s["win_share"] for s in R.win_shares(results, [CONTEST], REGION)}
    for arm, (_, design) in zip(claim.b, CONTEST.competitors):
        theirs = engine._region(claim, a, load({**arm.select, **claim.region}, claim.metric), arm.label)
        assert ours[design] == pytest.approx(theirs.effect, abs=1e-12), design


def test_the_region_verdict_could_have_gone_either_way(tech_table):
    """Defaults: power-gated SRAM refilled from DRAM beats hetero in most of the region. With
    tiny adapters (little SRAM left leaking), costly off-chip transfers and standby, and an
    eNVM that wears out at once, hetero wins all of it: the rule is not rigged either way."""
    lose = {s["competitor"]: s["win_share"] for s in R.win_shares(run(tech_table), [CONTEST], REGION)}
    assert lose["gated_sram-DRAM"] < 0.5 and lose["every competitor"] < 0.5
    tiny = W._table("toy", [("embedding", "backbone", False, 0, 0, 0, True),
                            ("layers", "backbone", False, 2 * MiB, 2 * MiB, 1_000_000_000, True),
                            ("adapters", "task", True, 1024, 1024, 1_000_000, False),
                            ("head", "task", True, 0, 0, 0, True)], 8, W.WorkloadConfig(bottleneck=8))
    base = E.EnergyConfig()
    costly = E.EnergyConfig(dram_pj_per_bit=5000.0, dram_standby_mw_per_gbit=1e6,
                            flash=dataclasses.replace(base.flash, pj_per_bit=5000.0, standby_mw_per_gbit=1e6),
                            envm_endurance={"RRAM": 1.0, "STT": 1e6, "PCM": 1e9})
    win = R.win_shares(E.simulate(toy_grid(), tiny, tech_table, costly), [CONTEST], REGION)
    assert {s["competitor"]: s["win_share"] for s in win}["every competitor"] == 1.0


def test_winner_map_picks_the_cheapest_serving_design(tech_table):
    sweep = E.SweepConfig(n_tasks=(2, 8), rate_hz=(0.1, 1.0, 10.0), switch_rate=(1.0,))
    results = run(tech_table, sweep=sweep)
    m = R.winner_map(results, [CONTEST], REGION)
    assert len(m) == 2 * 3 and set(m.technology) == {"RRAM"}
    labels = [CONTEST.hetero, *(d for _, d in CONTEST.competitors)]
    for row in m.itertuples():
        sel = results[(results.n_tasks == row.n_tasks) & np.isclose(results.rate_hz, row.rate_hz)
                      & results.design_label.astype(str).isin(labels)]
        ok = sel[sel.feasible & (sel.lifetime_years >= REGION.min_lifetime_years)]
        assert row.winner == str(ok.loc[ok.total_uj.idxmin(), "design_label"])
        assert row.in_region == int(row.rate_hz <= 1.0)
    # all_envm at one switch per inference wears out within seconds: it never wins
    assert not m.winner.str.startswith("all_envm").any()


def test_claims_file_is_read_strictly(tmp_path):
    region, contests = R.load_contests(REPO_CLAIMS)
    assert region.rate_hz_max > 0 and {c.hetero for c in contests} >= {"hetero-RRAM", "hetero-STT", "hetero-PCM"}
    doc = yaml.safe_load(REPO_CLAIMS.read_text())
    doc["claims"][0]["a"]["select"]["bottleneck"] = 64
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(LmreproError, match=r"claims\[0\]\.a: an energy arm selects exactly model and design_label"):
        R.load_contests(bad)
    doc = yaml.safe_load(REPO_CLAIMS.read_text())
    doc["claims"][1]["region"] = {"rate_hz_max": 30.0}
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(LmreproError, match="one region"):
        R.load_contests(bad)


def test_winner_map_csv_is_schema_checked(tmp_path):
    bad = pd.DataFrame({"model": ["m"], "technology": ["RRAM"], "rate_hz": [-1.0], "n_tasks": [2], "winner": ["x"],
                        "hetero_wins": [0], "saving": [1.0], "in_region": [1]})
    with pytest.raises(LmreproError, match="rate_hz"):
        R.write_csv(bad, tmp_path / "m.csv", R.WinnerMapTable)
    assert not (tmp_path / "m.csv").exists()
