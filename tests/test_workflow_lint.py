"""The workflow stays lint-clean: `make lint` (snakemake --lint, snakefmt --check) passes,
and every rule names the one pinned conda env, which mirrors requirements.lock."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lmrepro import condaenv
from lmrepro.errors import LmreproError
from tests.conftest import REPO

BIN = Path(sys.executable).parent
ENV = "../envs/lmrepro.yaml"


def run(cmd):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)


def test_snakemake_lint_exits_zero():
    result = run(["snakemake", "--lint"])
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "Lints for" not in out, out[-4000:]


def test_every_rule_names_the_one_conda_env():
    """Counted in the rule files themselves, so a new rule without `conda:` fails here even
    if a later Snakemake stops linting for it."""
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        rules = re.findall(r"^rule (\w+):", text, flags=re.MULTILINE)
        envs = re.findall(r"^    conda:\n        \"([^\"]+)\"", text, flags=re.MULTILINE)
        assert len(envs) == len(rules), f"{smk.name}: {len(rules)} rules, {len(envs)} conda: directives"
        assert set(envs) <= {ENV}, f"{smk.name}: conda env other than {ENV}: {set(envs) - {ENV}}"
    assert (REPO / "workflow" / "envs" / "lmrepro.post-deploy.sh").is_file()


def test_conda_env_pins_exactly_requirements_lock():
    assert condaenv.check(REPO) is None
    spec = yaml.safe_load((REPO / "workflow" / "envs" / "lmrepro.yaml").read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert pip == condaenv.locked_requirements(REPO / "requirements.lock")
    assert all("==" in pin for pin in pip)


def test_conda_env_check_names_a_stale_file(tmp_path):
    (tmp_path / "workflow" / "envs").mkdir(parents=True)
    (tmp_path / "requirements.lock").write_text("numpy==2.0.0\n")
    assert "missing" in condaenv.check(tmp_path)
    condaenv.write(tmp_path)
    assert condaenv.check(tmp_path) is None
    (tmp_path / "requirements.lock").write_text("numpy==2.0.1\n")
    assert "lmrepro.yaml: stale against requirements.lock" in condaenv.check(tmp_path)
    (tmp_path / "requirements.lock").write_text("numpy>=2\n")
    with pytest.raises(LmreproError, match=r"requirements.lock:1: 'numpy>=2' is not an exact pin"):
        condaenv.render(tmp_path)


def test_snakefmt_clean():
    result = run(["snakefmt", "--check", "Snakefile", "workflow/rules"])
    assert result.returncode == 0, result.stderr


def test_dry_run_lists_the_dag():
    result = run(["snakemake", "-n", "--forceall", "--cores", "1"])
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    for rule in ("fetch", "build_rec", "build_nlu", "build_corpus", "evaluate"):
        assert re.search(rf"\b{rule}\b", out), rule


def test_bad_config_fails_before_any_job_and_names_the_key(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("runtime:\n  threads: 0\ndata:\n  nlu:\n    sede: 3\n")
    result = run(["snakemake", "-n", "--cores", "1", "--configfile", "params.yaml", str(overlay)])
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "runtime.threads" in out and "data.nlu.sede" in out
