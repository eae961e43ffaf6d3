"""Shared fixtures: the real raw data, offline model hubs, a temporary repo root, and the
fault table's record_fault (tests/faults.py)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lmrepro.paths import data_mirror
from tests.faults import (  # noqa: F401  (the fault table)
    pytest_collection_modifyitems,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    record_fault,
)

if TYPE_CHECKING:
    import subprocess

    from tests.pipeline_helpers import Snapshot

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = data_mirror(root=REPO)

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


def once_per_session(tmp_path_factory: pytest.TempPathFactory, name: str, make):
    """``make(folder)`` once per test session, even across pytest-xdist workers.

    Why: `make test` runs two xdist workers (--dist loadfile), and a session fixture is per
    worker process. The smoke and cluster runs take ~15 min each on 2 cores, and tests in
    several files read them, so the first worker to ask runs ``make`` under a file lock in
    the session's shared temp folder and leaves the result (pickled) for the others. A
    failure is kept too, so a second worker reports it instead of running it again.
    """
    import pickle
    import traceback

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = shared / f"{name}.pickle"
    with FileLock(shared / f"{name}.lock"):
        if not record.is_file():
            try:
                outcome = ("ok", make(shared / name))
            except BaseException:  # noqa: BLE001 - kept for every worker, raised below
                outcome = ("failed", traceback.format_exc())
            record.write_bytes(pickle.dumps(outcome))
        status, value = pickle.loads(record.read_bytes())
    if status != "ok":
        pytest.fail(f"the session's {name} failed:\n{value}", pytrace=False)
    return value


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    """A smoke DAG run in a copy of the repo, as it was right after the run."""

    root: Path
    run: subprocess.CompletedProcess[str]  # Snakemake's output
    snapshot: Snapshot  # its outputs (tests/pipeline_helpers.py), before any test changes a knob
    commit: str  # the copy's HEAD then (test_scaleout commits its results later)
    tracking_home: Path | None = None  # the tracking server's folder (its SQLite store), if it used one


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> PipelineRun:
    """The smoke DAG once per session in a copy of the repo, Snakemake's local executor,
    the local MLflow store. Read by test_pipeline_smoke and test_reproducible."""
    from tests.code_trace import trace_env
    from tests.pipeline_helpers import head, sh, smoke_copy, snapshot

    def make(folder: Path) -> PipelineRun:
        root = smoke_copy(folder / "repo")
        # every stage records the lmrepro files it loads (tests/code_trace.py)
        run = sh(["snakemake", "--cores", "2"], root, env_extra=trace_env(root, folder / "imports"))
        return PipelineRun(root, run, snapshot(root), head(root))

    return once_per_session(tmp_path_factory, "smoke_run", make)


@pytest.fixture(scope="session")
def cluster_run(tmp_path_factory) -> PipelineRun:
    """The smoke DAG a second time, in another copy, through the generic cluster executor
    (every job its own submitted process), logging over HTTP to an `mlflow server`.

    test_scaleout checks the scale-out switches on it, and test_reproducible compares its
    outputs with the local run: one second run serves both, where each used to pay for its
    own (a smoke DAG is ~15 min of a 2-core machine)."""
    from tests.code_trace import trace_env
    from tests.pipeline_helpers import head, sh, smoke_copy, snapshot, start_tracking_server

    def make(folder: Path) -> PipelineRun:
        root = smoke_copy(folder / "repo")
        home = folder / "mlflow-server"
        home.mkdir()
        with start_tracking_server(home / "server.db", home / "server.log", artifacts=home / "artifacts") as uri:
            env = {"MLFLOW_TRACKING_URI": uri, "LMREPRO_CLUSTER_LOGDIR": str(root / ".snakemake" / "cluster-local"),
                   # traced like the local run, so the two differ in nothing but executor and store
                   **trace_env(root, folder / "imports")}
            run = sh(["snakemake", "--profile", "workflow/profiles/cluster-local"], root, env_extra=env)
        return PipelineRun(root, run, snapshot(root), head(root), home)

    return once_per_session(tmp_path_factory, "cluster_run", make)


@pytest.fixture(scope="session")
def tracking_server(cluster_run):
    """An `mlflow server` on the cluster run's store (the one its stages logged to), so the
    tests read over HTTP what the run wrote, whichever worker ran it."""
    from tests.pipeline_helpers import start_tracking_server

    home = cluster_run.tracking_home
    with start_tracking_server(home / "server.db", home / "server-tests.log", artifacts=home / "artifacts") as uri:
        yield uri
