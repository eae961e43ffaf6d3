"""Scale-out switches, end to end: the smoke DAG through the generic cluster executor
(every job its own process, started by a submit script), logged over HTTP to a real
MLflow tracking server, then its outputs pushed to a DVC remote and pulled into a
fresh clone. The run is the session's cluster_run (tests/conftest.py), which
test_reproducible also compares with the local run."""

from __future__ import annotations

import json
import re
import sys
import urllib.request

import pytest

from tests.pipeline_helpers import dvc_stages, sh

pytestmark = [pytest.mark.e2e, pytest.mark.scaleout, pytest.mark.timeout(3600)]


def _api(uri, path, body):
    req = urllib.request.Request(f"{uri}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_every_job_ran_as_its_own_submitted_process(cluster_run):
    root, run = cluster_run.root, cluster_run.run
    out = run.stdout + run.stderr
    job_ids = re.findall(r"external jobid '(\d+)'", out)
    stages = dvc_stages(root)
    assert len(job_ids) == len(stages), out[-3000:]
    assert len(set(job_ids)) == len(job_ids)
    assert len(list((root / ".snakemake" / "cluster-local").glob("*.out"))) == len(stages)
    assert (root / "reports" / "results.md").is_file()
    local = sh(["snakemake", "--cores", "2", "-n"], root)
    assert "Nothing to be done" in local.stdout + local.stderr  # interchangeable with a local run


def test_runs_were_logged_over_http_to_the_server(cluster_run, tracking_server):
    root = cluster_run.root
    assert not (root / "mlflow.db").exists(), "a stage fell back to the local store"
    exps = [e["experiment_id"] for e in _api(tracking_server, "experiments/search", {"max_results": 100})["experiments"]]
    runs = _api(tracking_server, "runs/search", {"experiment_ids": exps, "max_results": 1000})["runs"]
    stage_runs = [r for r in runs if any(t["key"] == "lmrepro.stage" for t in r["data"].get("tags", []))]
    assert len(stage_runs) == len(dvc_stages(root))
    assert {r["info"]["status"] for r in stage_runs} == {"FINISHED"}
    invocations = {t["value"] for r in stage_runs for t in r["data"]["tags"] if t["key"] == "lmrepro.invocation_id"}
    assert len(invocations) == 1


def test_dvc_remote_push_then_pull_into_a_fresh_clone(cluster_run, tmp_path):
    root = cluster_run.root
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
