"""The report section renders from stage metrics, and the stages run end to end (no MLflow server)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from lmrepro.edge import report

REPO = Path(__file__).resolve().parents[2]


def test_render_is_empty_without_outputs(tmp_path):
    assert report.render(tmp_path) == ""


def test_render_reports_savings_without_verdicts(tmp_path):
    d = tmp_path / "reports" / "metrics" / "edge"
    d.mkdir(parents=True)
    part = {"read_uj": 1.0, "mac_uj": 2.0, "leak_uj": 7.0, "reload_uj": 0.0, "total_uj": 10.0, "latency_ms": 1.0,
            "duty_cycle": 0.001, "area_mm2": 4.0, "sram_bytes": 2**20, "envm_bytes": 0.0}
    energy = {
        "reference": {"n_tasks": 9, "rate_hz": 1.0, "switch_rate": 0.1, "bottleneck": 64},
        "breakdown": {"m": {"all_sram": part, "hetero-RRAM": {**part, "total_uj": 5.0, "area_mm2": 2.0}}},
        "savings": {"m": {"RRAM_vs_all_sram": {"energy": 2.0, "area": 2.0},
                          "RRAM_vs_dram_reload": {"energy": 0.5, "area": 1.5}}},
        "savings_over_sweep": {"m": {"RRAM_vs_all_sram": {"min": 1.2, "max": 3.0, "share_above_1": 1.0},
                                     "RRAM_vs_dram_reload": {"min": 0.4, "max": 2.0, "share_above_1": 0.25}}},
        "pruned": {}, "feasible_share": 1.0, "scenarios": 4,
    }
    (d / "energy.json").write_text(json.dumps(energy))
    text = report.render(tmp_path)
    assert "| RRAM | 2.00x | 0.50x | 2.00x | 1.50x |" in text
    assert "DRAM-reload baselines: 0.50x-2.00x" in text
    assert "70.0% of the energy per inference. Not a claim" in text
    for word in ("Supported", "supported", "contradicted", "inconclusive", "Survives"):
        assert word not in text  # verdicts come from the claims engine


def test_tech_stage_cli_bad_file_is_a_clear_error_without_output(tmp_path):
    """edge_tech through its CLI (harness, MLflow in a temporary store): exit 2, the key named,
    nothing written. The success path runs in the smoke DAG."""
    (tmp_path / "raw" / "nvmexplorer").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
           "LMREPRO_ROOT": str(REPO)}
    bad = json.dumps({"edge.tech": {"files": {"SRAM": "missing.csv"}, "total_check_rtol": 0.001},
                      "runtime": {"seed": 0, "threads": 1, "device": "cpu", "amp": False}})
    out = subprocess.run(
        [sys.executable, "-m", "lmrepro.stages.edge_tech", "--raw", str(tmp_path / "raw"),
         "--out", str(tmp_path / "t.parquet"), "--failed", str(tmp_path / "f.parquet"),
         "--metrics", str(tmp_path / "m.json"), "--cfg", bad],
        env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "edge.tech.files.SRAM" in out.stderr, out.stderr[-2000:]
    assert not any((tmp_path / n).exists() for n in ("t.parquet", "f.parquet", "m.json"))


def test_energy_knobs_rerun_only_the_energy_stage():
    """dvc.yaml (generated from the Snakefile): edge.energy is read by edge_energy alone, and
    edge_energy reads no other edge section but edge.prune."""
    from lmrepro import dvcgen

    stages = dvcgen.load_stages(REPO)
    readers = [name for name, st in stages.items() if any(str(p).startswith("edge.energy") for p in st["params"])]
    assert readers == ["edge_energy"]
    assert sorted(stages["edge_energy"]["params"]) == ["edge.energy", "edge.prune", "runtime"]
    assert "edge.energy" not in stages["edge_tech"]["params"]


def _region_and_sensitivity(flip: bool) -> tuple[dict, dict]:
    region = {
        "region": {"rate_hz_max": 1.0, "rate_hz_min": 0.0, "n_tasks_min": 2, "sparsity": 0.0, "min_lifetime_years": 5.0},
        "reference": {"n_tasks": 9, "rate_hz": 1.0, "switch_rate": 0.1, "bottleneck": 64,
                      "bottleneck_per_model": {"m": 64}},
        "claims_file": "workflow/claims/edge_energy.yaml", "linear_gap": 1e-15, "map": {"rates": 3},
        "win_shares": [{"model": "m", "hetero": "hetero-RRAM", "competitor": "gated_sram-DRAM", "win_share": 0.25,
                        "scenarios": 40},
                       {"model": "m", "hetero": "hetero-RRAM", "competitor": "every competitor", "win_share": 0.125,
                        "scenarios": 40}],
        "crossovers": [{"model": "m", "hetero": "hetero-RRAM", "competitor": "gated_sram-DRAM", "crossover_hz": 12.5,
                        "hetero_wins": "above", "wins_at_hz": [[12.5, 89.0]], "hetero_max_rate_hz": 89.0,
                        "competitor_max_rate_hz": 82.0, "region_crossover_min_hz": 0.4,
                        "region_crossover_max_hz": 170.0, "region_sides": ["above"]}],
    }
    sens = {
        "reference": {"n_tasks": 9, "rate_hz": 1.0, "switch_rate": 0.1},
        "inputs": [{"constant": "clock_ghz", "value": 1.0, "source": "assumption: judged", "assumption": "yes",
                    "range": [0.25, 2.0], "range_source": "assumption: judged"}],
        "survives": [{"model": "m", "technology": "RRAM", "base_saving": 0.14, "base_strongest": "gated_sram-DRAM",
                      "hetero_wins_at_base": False, "sign_survives": not flip, "min_saving": 0.06,
                      "max_saving": 1.3 if flip else 0.3, "flips": ["clock_ghz=0.25"] if flip else []}],
    }
    return region, sens


def test_render_reports_crossovers_and_whether_the_sign_survives(tmp_path):
    """The region, crossover table, sources and the sensitivity sentence come from the stage's
    JSON: a flipping change is reported as such."""
    for flip in (False, True):
        (tmp_path / "reports" / "metrics" / "edge").mkdir(parents=True, exist_ok=True)
        (tmp_path / "reports" / "edge").mkdir(parents=True, exist_ok=True)
        part = {"read_uj": 1.0, "mac_uj": 2.0, "leak_uj": 7.0, "reload_uj": 0.0, "total_uj": 10.0, "latency_ms": 1.0,
                "duty_cycle": 0.001, "area_mm2": 4.0, "sram_bytes": 2**20, "envm_bytes": 0.0}
        energy = {"reference": {"n_tasks": 9, "rate_hz": 1.0, "switch_rate": 0.1, "bottleneck": 64},
                  "breakdown": {"m": {"all_sram": part}}, "savings": {}, "pruned": {},
                  "coarse_check": {"max_rel_gap": 5e-5, "mean_rel_gap": 1e-5, "scenarios": 100, "rtol": 1e-3,
                                   "agrees": True, "worst": {"design_label": "all_envm-RRAM", "model": "m",
                                                             "n_tasks": 1, "rate_hz": 30.0}}}
        (tmp_path / "reports" / "metrics" / "edge" / "energy.json").write_text(json.dumps(energy))
        region, sens = _region_and_sensitivity(flip)
        (tmp_path / "reports" / "edge" / "region.json").write_text(json.dumps(region))
        (tmp_path / "reports" / "edge" / "sensitivity.json").write_text(json.dumps(sens))
        text = report.render(tmp_path)
        assert "an inference rate of at most 1 per second, at least 2 tasks" in text
        assert "| m | hetero-RRAM | gated_sram-DRAM | 25.0% of 40 | 12.5 | above | 12.5-89 | 82 | 0.4-170 (above) |" in text
        assert "hetero-RRAM (m) 12.5%" in text
        assert "| clock_ghz | 1 | assumption: judged | yes | 0.25, 2 | assumption: judged |" in text
        assert "agrees with the simulator over all 100 scenarios: largest relative gap 5.0e-05" in text
        if flip:
            assert "flips under at least one single change for 1 of 1" in text and "clock_ghz=0.25" in text
        else:
            assert "survives every one-at-a-time change for all 1 heterogeneous designs" in text


def test_robustness_stage_imports_none_of_the_energy_analysis():
    """Editing the region/sensitivity/coarse modules must not rerun the long robustness stage."""
    from lmrepro.codedeps import module_closure

    closure = set(module_closure("lmrepro.stages.edge_robustness"))
    energy = set(module_closure("lmrepro.stages.edge_energy"))
    new = {"lmrepro.edge.region", "lmrepro.edge.region_figures", "lmrepro.edge.sensitivity", "lmrepro.edge.coarse"}
    assert new <= energy and not (new & closure)


def test_energy_stage_without_a_source_is_a_clear_error_before_any_work(tmp_path):
    """A constant without a cited source (or a stated assumption) stops the energy stage: exit 2,
    the key named, nothing written."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    energy = params["edge"]["energy"]
    del energy["sources"]["flash.wakeup_us"]
    cfg = json.dumps({"edge.energy": energy, "edge.prune": params["edge"]["prune"], "runtime": params["runtime"]})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
           "LMREPRO_ROOT": str(REPO)}
    outs = ["--out", "e.parquet", "--metrics", "m.json", "--fig-tasks", "t.png", "--fig-rate", "r.png",
            "--region", "region.json", "--winner-map", "w.png", "--winner-map-data", "w.csv",
            "--sensitivity", "s.json", "--tornado", "o.png", "--tornado-data", "o.csv"]
    out = subprocess.run(
        [sys.executable, "-m", "lmrepro.stages.edge_energy", "--tech", str(tmp_path / "tech.parquet"),
         "--workloads", str(tmp_path / "wl.parquet"), "--claims", str(REPO / "workflow" / "claims" / "edge_energy.yaml"),
         *[str(tmp_path / a) if not a.startswith("--") else a for a in outs], "--cfg", cfg],
        env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "edge.energy.sources: no source for flash.wakeup_us" in out.stderr, out.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "mlflow.db") == []
