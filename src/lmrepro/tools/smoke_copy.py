"""A throwaway copy of the repository set to the smoke profile: one recipe for the
pipeline benchmark (:mod:`lmrepro.tools.bench`) and the end-to-end tests.

Why one recipe: the benchmark and the tests both run the whole smoke DAG in a copy, and
two hand-kept versions of "copy, switch to smoke params, point at the mirror, commit,
regenerate dvc.yaml" drift apart (one forgets the dvc.lock, the other the environment),
so a benchmark would measure a different run from the one the tests check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from lmrepro import config

# Variables of the calling process that would point a copy's stages at the original
# repository, its MLflow store or its Snakemake invocation.
FOREIGN_VARS = ("LMREPRO_ROOT", "MLFLOW_TRACKING_URI", "LMREPRO_INVOCATION_ID", "LMREPRO_ORCHESTRATOR")
# A fixed date: two copies of the same tree get the same commit, as two clones would.
FIXED_DATE = "2026-01-01T00:00:00+0000"


def copy_sources(root: Path, dest: Path) -> Path:
    """Tracked and untracked-but-not-ignored files (a fresh clone plus local edits),
    without the committed results under reports/.

    Why without reports/: those are the DAG's final outputs. Present and newer than the
    code, they make Snakemake answer "Nothing to be done" in a fresh copy even though no
    data/ exists, so a benchmark or test of a full run would measure nothing.
    """
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True,
                           text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        if rel.startswith("reports/"):
            continue
        if (root / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest / rel)
    return dest


def copy_env(copy: Path, mirror: Path, extra: dict | None = None) -> dict:
    """The environment to run the pipeline in ``copy``: this interpreter's tools first on
    PATH, the copy's sources on PYTHONPATH, the raw-data mirror, nothing of the caller's run."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "LMREPRO_DATA_MIRROR": str(mirror),
           "PYTHONPATH": str(copy / "src")}
    for var in FOREIGN_VARS:
        env.pop(var, None)
    env.update(extra or {})
    return env


def git_commit(copy: Path, message: str) -> None:
    """Make ``copy`` a git repository with one commit of everything (DVC needs one)."""
    env = {**os.environ, "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}
    subprocess.run("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm " + message,
                   shell=True, cwd=copy, env=env, check=True, capture_output=True)


def write_smoke_params(copy: Path, mirror: Path, params: dict | None = None) -> dict:
    """params.yaml of ``copy`` := default params + the smoke profile (so DVC reads the
    smoke sizes too), raw data from ``mirror``; ``params`` (from an earlier call, edited)
    is written as given. Returns what was written."""
    if params is None:
        params = config.load_params(copy / "params.yaml", copy / "workflow" / "profiles" / "smoke" / "params.yaml")
        params["data"]["mirror"] = str(mirror)
        params["data"]["manifest"] = str(mirror / "MANIFEST.tsv")
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def smoke_copy(root: Path, dest: Path, mirror: Path) -> Path:
    """A git repository at ``dest`` with the sources of ``root``, smoke params, no
    dvc.lock, and a dvc.yaml that describes the smoke DAG (stage names follow the params)."""
    copy = copy_sources(root, dest)
    write_smoke_params(copy, mirror)
    (copy / "dvc.lock").unlink(missing_ok=True)
    git_commit(copy, "smoke")
    subprocess.run([sys.executable, "-m", "lmrepro.dvcgen", "write"], cwd=copy, env=copy_env(copy, mirror),
                   check=True, capture_output=True)
    return copy
