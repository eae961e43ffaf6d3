"""Shared fixtures: the real raw data, offline model hubs, a temporary repo root, and the
fault table's record_fault (tests/faults.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmrepro.paths import data_mirror
from tests.faults import (  # noqa: F401  (the fault table)
    pytest_collection_modifyitems,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    record_fault,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = data_mirror(root=REPO)


@pytest.fixture(autouse=True)
def _no_orchestrator_leak(monkeypatch):
    """Parsing the Snakefile in-process (workflow/rules/common.smk) sets LMREPRO_ORCHESTRATOR
    in os.environ for the rest of the session, which tagged later in-process stage runs as
    Snakemake's and made tests/plumbing depend on test order. Each test starts without it."""
    monkeypatch.delenv("LMREPRO_ORCHESTRATOR", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MANIFEST.tsv").is_file():
        pytest.fail(f"raw data mirror not found at {SHARED_DATA} (set LMREPRO_DATA_MIRROR)")
    return SHARED_DATA


@pytest.fixture
def tmp_root(tmp_path, monkeypatch) -> Path:
    """A throwaway repo root with the real schemas, so stages and tracking write there."""
    import shutil

    root = tmp_path / "repo"
    (root / "workflow" / "schemas").mkdir(parents=True)
    shutil.copytree(REPO / "workflow" / "schemas" / "params", root / "workflow" / "schemas" / "params")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    monkeypatch.setenv("LMREPRO_ROOT", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke DAG once per session in a copy of the repo: (root, snakemake result, snapshot
    of its outputs taken right after the run, before any test changes a knob in it).
    Shared by test_pipeline_smoke and test_reproducible, so the suite runs it once."""
    from tests.code_trace import trace_env
    from tests.pipeline_helpers import sh, smoke_copy, snapshot

    root = smoke_copy(tmp_path_factory.mktemp("e2e") / "repo")
    # every stage records the lmrepro files it loads (tests/code_trace.py)
    run = sh(["snakemake", "--cores", "2"], root, env_extra=trace_env(root, root.parent / "imports"))
    return root, run, snapshot(root)
