"""Scale-out switches, end to end: the smoke DAG through the generic cluster executor
(every job its own process, started by a submit script), logged over HTTP to a real
MLflow tracking server, then its outputs pushed to a DVC remote and pulled into a
fresh clone."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline_helpers import BIN, dvc_stages, sh, smoke_copy

pytestmark = [pytest.mark.e2e, pytest.mark.scaleout, pytest.mark.timeout(3600)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """`mlflow server` with a SQLite backend on loopback, stopped by its PID."""
    home = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{home / 'server.db'}",
         "--artifacts-destination", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5):
                break
        except OSError:
            assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
            assert time.time() < deadline, "tracking server did not start"
            time.sleep(1)
    yield uri
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def cluster_repo(tmp_path_factory, tracking_server):
    root = smoke_copy(tmp_path_factory.mktemp("cluster") / "repo")
    env = {"MLFLOW_TRACKING_URI": tracking_server, "LMREPRO_CLUSTER_LOGDIR": str(root / ".snakemake" / "cluster-local")}
    run = sh(["snakemake", "--profile", "workflow/profiles/cluster-local"], root, env_extra=env)
    return root, run


def _api(uri, path, body):
    req = urllib.request.Request(f"{uri}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_every_job_ran_as_its_own_submitted_process(cluster_repo):
    root, run = cluster_repo
    out = run.stdout + run.stderr
    job_ids = re.findall(r"external jobid '(\d+)'", out)
    stages = dvc_stages(root)
    assert len(job_ids) == len(stages), out[-3000:]
    assert len(set(job_ids)) == len(job_ids)
    assert len(list((root / ".snakemake" / "cluster-local").glob("*.out"))) == len(stages)
    assert (root / "reports" / "results.md").is_file()
    local = sh(["snakemake", "--cores", "2", "-n"], root)
    assert "Nothing to be done" in local.stdout + local.stderr  # interchangeable with a local run


def test_runs_were_logged_over_http_to_the_server(cluster_repo, tracking_server):
    root, _ = cluster_repo
    assert not (root / "mlflow.db").exists(), "a stage fell back to the local store"
    exps = [e["experiment_id"] for e in _api(tracking_server, "experiments/search", {"max_results": 100})["experiments"]]
    runs = _api(tracking_server, "runs/search", {"experiment_ids": exps, "max_results": 1000})["runs"]
    stage_runs = [r for r in runs if any(t["key"] == "lmrepro.stage" for t in r["data"].get("tags", []))]
    assert len(stage_runs) == len(dvc_stages(root))
    assert {r["info"]["status"] for r in stage_runs} == {"FINISHED"}
    invocations = {t["value"] for r in stage_runs for t in r["data"]["tags"] if t["key"] == "lmrepro.invocation_id"}
    assert len(invocations) == 1


def test_dvc_remote_push_then_pull_into_a_fresh_clone(cluster_repo, tmp_path):
    root, _ = cluster_repo
    store = tmp_path / "dvc-store"
    sh([sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(store)], root)
    sh([sys.executable, "-m", "dvc", "push"], root)
    sh("git add -A && git -c user.email=t@t -c user.name=t commit -qm 'smoke results'", root)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path)
    assert not (clone / "data").exists()
    sh([sys.executable, "-m", "dvc", "pull"], clone)
    assert (clone / "data" / "nlu" / "tasks.parquet").is_file()
    status = sh([sys.executable, "-m", "dvc", "status"], clone)
    assert "up to date" in status.stdout, status.stdout
