"""End to end: the smoke profile through Snakemake in a temporary copy of the repo, then
DVC and MLflow must agree with what ran.

The copy gets the smoke overlay rendered into its params.yaml, so Snakemake and DVC read
the same parameters (as a user who edits params.yaml would).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lmrepro import config
from tests.conftest import REPO, SHARED_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]
BIN = Path(sys.executable).parent


def sh(cmd, cwd, check=True, timeout=3000):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "LMREPRO_DATA_MIRROR": str(SHARED_DATA), "PYTHONPATH": str(cwd / "src")}
    for var in ("LMREPRO_ROOT", "MLFLOW_TRACKING_URI", "LMREPRO_INVOCATION_ID", "LMREPRO_ORCHESTRATOR"):
        env.pop(var, None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str), timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def copy_repo(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory):
    root = copy_repo(tmp_path_factory.mktemp("e2e") / "repo")
    params = config.load_params(root / "params.yaml", root / "workflow" / "profiles" / "smoke" / "params.yaml")
    params["data"]["mirror"] = str(SHARED_DATA)
    params["data"]["manifest"] = str(SHARED_DATA / "MANIFEST.tsv")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for f in ("dvc.lock",):
        (root / f).unlink(missing_ok=True)
    sh("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm smoke", root)
    sh([sys.executable, "-m", "lmrepro.dvcgen", "write"], root)
    run = sh(["snakemake", "--cores", "2"], root)
    return root, run


def test_smoke_dag_runs_and_second_invocation_has_nothing_to_do(smoke_repo):
    root, run = smoke_repo
    assert (root / "reports" / "results.md").is_file()
    again = sh(["snakemake", "--cores", "2"], root)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_dvc_status_is_clean_after_snakemake(smoke_repo):
    root, _ = smoke_repo
    status = sh([sys.executable, "-m", "dvc", "status"], root)
    assert "up to date" in status.stdout, status.stdout


def test_mlflow_holds_one_finished_run_per_stage(smoke_repo):
    root, _ = smoke_repo
    from mlflow.tracking import MlflowClient

    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("lmrepro-")]
    finished = client.search_runs(exps, filter_string="attributes.status = 'FINISHED'", max_results=5000)
    per_invocation = {r.data.tags["lmrepro.invocation_id"] for r in finished if "lmrepro.stage" in r.data.tags}
    assert len(per_invocation) == 1, "one snakemake call = one invocation id"
    assert len([r for r in finished if "lmrepro.stage" in r.data.tags]) == len(stages)
    assert not client.search_runs(exps, filter_string="attributes.status = 'RUNNING'")


def test_changed_knob_reruns_exactly_the_dependent_stages(smoke_repo):
    root, _ = smoke_repo
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["corpus"]["seed"] += 1
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repro = sh([sys.executable, "-m", "dvc", "repro"], root)
    ran = set(re.findall(r"Running stage '([^']+)'", repro.stdout))
    expected = {"build_corpus", "evaluate"}
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    downstream = {n for n, s in stages.items() if any("data/text/corpus.parquet" == d for d in s["deps"])}
    assert ran == expected | downstream, repro.stdout
    assert "up to date" in sh([sys.executable, "-m", "dvc", "status"], root).stdout
