"""Shared fixtures: the real raw data, offline model hubs, a temporary repo root, and the
fault table's record_fault (tests/faults.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmrepro.paths import data_mirror
from tests import faults
from tests.faults import (  # noqa: F401  (the fault table)
    pytest_runtest_makereport,
    pytest_sessionfinish,
    record_fault,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = data_mirror(root=REPO)

# `make test` runs the suite on two pytest-xdist workers (--dist loadgroup). A group runs
# whole on one worker:
# - "session-dag": the tests of the session's smoke and cluster runs (tests that ask for
#   them share one run per session only within one worker process);
# - "repo-snakemake": the modules that run Snakemake or DVC in the checkout itself, so two
#   of them never share its .snakemake/ or .dvc/ folders at once.
SESSION_DAG_FIXTURES = {"smoke_run", "cluster_run", "tracking_server"}
REPO_SNAKEMAKE_MODULES = {"test_workflow_lint.py", "test_profiles.py", "test_dvc_yaml.py", "test_code_inputs.py"}


def xdist_group(item: pytest.Item) -> str | None:
    if SESSION_DAG_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "session-dag"
    if item.path.name in REPO_SNAKEMAKE_MODULES and item.path.parent == REPO / "tests":
        return "repo-snakemake"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    faults.pytest_collection_modifyitems(config, items)
    for item in items:
        group = xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory):
    """`mlflow server` with a SQLite backend on loopback, stopped by its PID."""
    from tests.pipeline_helpers import start_tracking_server

    with start_tracking_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri


@pytest.fixture(scope="session")
def cluster_run(tmp_path_factory, tracking_server):
    """The smoke DAG a second time, in another copy, through the generic cluster executor
    (every job its own submitted process) and logging over HTTP to ``tracking_server``:
    (root, snakemake result, snapshot of its outputs right after the run).

    test_scaleout checks the scale-out switches on it, and test_reproducible compares its
    outputs with the session's local run: one second run serves both, where each used to
    pay for its own (a smoke DAG is a quarter of the suite's time on a 2-core machine)."""
    from tests.code_trace import trace_env
    from tests.pipeline_helpers import sh, smoke_copy, snapshot

    root = smoke_copy(tmp_path_factory.mktemp("cluster") / "repo")
    env = {"MLFLOW_TRACKING_URI": tracking_server, "LMREPRO_CLUSTER_LOGDIR": str(root / ".snakemake" / "cluster-local"),
           # traced like the session run, so the two differ in nothing but executor and store
           **trace_env(root, root.parent / "imports")}
    run = sh(["snakemake", "--profile", "workflow/profiles/cluster-local"], root, env_extra=env)
    return root, run, snapshot(root)
