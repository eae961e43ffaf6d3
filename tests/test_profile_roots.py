"""Profiles have their own output roots (issue 18 item 1): the default profile writes at
the repository root, every other config under runs/<profile>/, so a smoke run never
overwrites the committed results."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmrepro import paths, tracking
from tests.pipeline_helpers import clone_copy, lock_entries, sh


def test_default_keeps_the_root_and_others_get_runs_profile():
    assert paths.profile_dir("default", is_default=True) == Path(".")
    assert paths.profile_dir("smoke", is_default=True) == Path(".")  # params.yaml itself, whatever its name
    assert paths.profile_dir("smoke", is_default=False) == Path("runs/smoke")
    assert paths.profile_dir("default", is_default=False) == Path("runs/default")  # --config tweak of the default
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError, match="plain folder name"):
            paths.profile_dir(bad, is_default=False)


def test_mlflow_store_follows_the_output_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(paths.OUTPUT_ROOT_ENV, raising=False)
    assert tracking.tracking_uri(tmp_path).startswith(f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(paths.OUTPUT_ROOT_ENV, str(tmp_path / "runs" / "smoke"))
    assert tracking.tracking_uri(tmp_path).startswith(f"sqlite:///{tmp_path / 'runs' / 'smoke' / 'mlflow.db'}")
    assert tracking.artifact_root(tmp_path) == tmp_path / "runs" / "smoke" / "mlartifacts"
    assert paths.output_root(tmp_path) == tmp_path / "runs" / "smoke"


@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_smoke_profile_leaves_the_committed_results_alone(tmp_path):
    """The README's smoke command on a fresh clone (data stages + the NLU counts report,
    a tracked file of reports/): everything lands in runs/smoke/, git sees no change."""
    root = clone_copy(tmp_path / "repo")
    before = lock_entries(root)
    targets = ["reports/data/nlu_counts.md", "data/rec/beauty.parquet"]
    run = sh(["snakemake", "--cores", "2", *targets, "--configfile", "params.yaml", "workflow/profiles/smoke/params.yaml"], root)
    assert "dvc.lock left as it was" in run.stdout + run.stderr
    out = root / "runs" / "smoke"
    for rel in [*targets, "data/raw/nlu", "data/raw/rec", "reports/metrics/data/nlu.json", "logs/build_nlu/build_nlu.log", "mlflow.db"]:
        assert (out / rel).exists(), f"runs/smoke/{rel} missing"
    assert (out / "reports/data/nlu_counts.md").read_text() != ""
    for rel in ("data", "models", "logs", "mlflow.db", "mlartifacts"):
        assert not (root / rel).exists(), f"the smoke run wrote {rel} at the repository root"
    status = sh(["git", "status", "--porcelain", "--", "reports", "dvc.lock", "dvc.yaml"], root).stdout
    assert status == "", f"tracked results changed by a smoke run:\n{status}"
    assert lock_entries(root) == before
    # the smoke run's stage runs are in its own store, none in the default one
    runs = tracking.client(out).search_runs([tracking.client(out).get_experiment_by_name(tracking.experiment_name("data")).experiment_id])
    assert {r.data.tags["lmrepro.stage"] for r in runs} >= {"fetch", "build_nlu", "build_rec"}
