"""Every rule declares as code inputs exactly the package sources its stage imports.

The cheap half of the loop (the smoke DAG in test_pipeline_smoke.py traces what each stage
really loads while it runs): the Snakefile DAG and dvc.yaml carry, for every job, the
import closure that lmrepro.codedeps computes, and that closure covers what Python itself
loads when it imports the stage module.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from lmrepro import codedeps, dvcgen
from tests.conftest import REPO

STAGES = sorted(
    f"lmrepro.stages.{p.stem}" for p in (REPO / "src" / "lmrepro" / "stages").glob("*.py") if p.stem != "__init__"
)


def _code(paths) -> set[str]:
    return {p for p in paths if p.startswith("src/")}


def _stage_module(cmd: str) -> str:
    words = shlex.split(cmd)
    return words[words.index("-m") + 1]


def _closure(module: str) -> set[str]:
    return {str(p.relative_to(REPO)) for p in codedeps.code_files(module, REPO / "src")}


@pytest.fixture(scope="module")
def snakemake_jobs():
    return dvcgen._jobs(REPO)


def test_every_stage_module_is_run_by_some_rule(snakemake_jobs):
    assert {_stage_module(" ".join(j["shellcmd"].split())) for j in snakemake_jobs} == set(STAGES)


def test_snakefile_jobs_declare_the_import_closure_of_their_stage(snakemake_jobs):
    wrong = {}
    for job in snakemake_jobs:
        module = _stage_module(" ".join(job["shellcmd"].split()))
        declared, needed = _code(job["input"]), _closure(module)
        if declared != needed:
            wrong[dvcgen._stage_name(job)] = {"missing": sorted(needed - declared), "extra": sorted(declared - needed)}
    assert not wrong, json.dumps(wrong, indent=1)


def test_dvc_stages_declare_the_import_closure_of_their_stage():
    stages = dvcgen.load_stages(REPO)
    wrong = {}
    for name, stage in stages.items():
        declared, needed = _code(stage["deps"]), _closure(_stage_module(stage["cmd"]))
        if declared != needed:
            wrong[name] = {"missing": sorted(needed - declared), "extra": sorted(declared - needed)}
    assert not wrong, json.dumps(wrong, indent=1)


IMPORT_EACH = """
import importlib, json, sys
from pathlib import Path
package = Path(sys.argv[1]) / "src" / "lmrepro"
loaded = {}
for name in sys.argv[2:]:
    for mod in [m for m in sys.modules if m == "lmrepro" or m.startswith("lmrepro.")]:
        del sys.modules[mod]  # third-party modules stay cached: each stage pays only for ours
    importlib.import_module(name)
    loaded[name] = sorted(
        str(Path(m.__file__).resolve().relative_to(package.parent.parent))
        for m in list(sys.modules.values())
        if getattr(m, "__file__", None) and Path(m.__file__).resolve().is_relative_to(package)
    )
print(json.dumps(loaded))
"""


@pytest.mark.slow
def test_static_closure_covers_what_python_loads_on_import():
    """Checks the analyser against the import system itself (module-level imports; the
    lazy ones inside functions are exercised by the smoke DAG's import trace)."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, str(REPO), *STAGES],
        capture_output=True, text=True, cwd=REPO, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(loaded) == set(STAGES)
    missed = {name: sorted(set(files) - _closure(name)) for name, files in loaded.items()}
    assert not any(missed.values()), json.dumps(missed, indent=1)
