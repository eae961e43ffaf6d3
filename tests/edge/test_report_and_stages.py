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
