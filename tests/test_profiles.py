"""The execution profiles name real rules and parse as Snakemake profiles."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def rule_names() -> set[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["snakemake", "--list-rules"], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("profile", ["paper", "slurm"])
def test_profile_resources_name_existing_rules(profile):
    cfg = yaml.safe_load((REPO / "workflow" / "profiles" / profile / "config.yaml").read_text())
    rules = rule_names()
    named = set(cfg.get("set-resources", {})) | set(cfg.get("set-threads", {}))
    assert named and named <= rules, named - rules
    gpu_rules = {r for r, res in cfg["set-resources"].items() if res.get("gpu") or "gpu" in str(res.get("gres", ""))}
    assert {"rec_train", "mta_stage1", "mta_baseline"} <= gpu_rules


def test_paper_profile_dry_run_schedules_the_dag():
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["snakemake", "--profile", "workflow/profiles/paper", "-n", "--forceall"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rec_train" in result.stdout and "mta_stage1" in result.stdout
