"""Running the pipeline in a throwaway copy of the repository (end-to-end tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from lmrepro import config
from lmrepro.bench import copy_sources
from tests.conftest import REPO, SHARED_DATA  # noqa: F401 (re-exported)

BIN = Path(sys.executable).parent


def sh(cmd, cwd, check=True, timeout=3000, env_extra=None):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "LMREPRO_DATA_MIRROR": str(SHARED_DATA), "PYTHONPATH": str(cwd / "src")}
    for var in ("LMREPRO_ROOT", "MLFLOW_TRACKING_URI", "LMREPRO_INVOCATION_ID", "LMREPRO_ORCHESTRATOR"):
        env.pop(var, None)
    env.update(env_extra or {})
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str), timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def copy_repo(dest: Path) -> Path:
    """What a fresh clone plus local edits has, minus the committed results (see copy_sources)."""
    return copy_sources(REPO, dest)


def clone_copy(dest: Path) -> Path:
    """What a user has after `git clone`: the sources and the committed results under
    reports/ (metrics JSON files are DVC-tracked, git-ignored, so absent), no data/, as a
    git repository so DVC works. params.yaml stays the default one: its relative raw-data
    paths (../shared/data) reach the real mirror through a link beside the copy."""
    root = copy_repo(dest)
    shared = dest.parent / "shared"
    shared.mkdir(exist_ok=True)
    if not (shared / "data").exists():
        (shared / "data").symlink_to(SHARED_DATA.resolve(), target_is_directory=True)
    tracked = subprocess.run(["git", "ls-files", "-z", "reports"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, tracked.split("\0")):
        if (REPO / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    sh("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm clone", root)
    return root


def lock_entries(root: Path) -> dict:
    path = root / "dvc.lock"
    return yaml.safe_load(path.read_text())["stages"] if path.is_file() else {}


def changed_stages(root: Path, names) -> set[str]:
    """Which of these stages `dvc status` reports as changed (not up to date)."""
    import json

    out = sh([sys.executable, "-m", "dvc", "status", "--json", *names], root).stdout
    return set(json.loads(out or "{}"))


def smoke_copy(dest: Path) -> Path:
    """A git repo copy whose params.yaml is the smoke profile (so DVC reads it too)."""
    root = copy_repo(dest)
    params = config.load_params(root / "params.yaml", root / "workflow" / "profiles" / "smoke" / "params.yaml")
    params["data"]["mirror"] = str(SHARED_DATA)
    params["data"]["manifest"] = str(SHARED_DATA / "MANIFEST.tsv")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "dvc.lock").unlink(missing_ok=True)
    sh("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm smoke", root)
    sh([sys.executable, "-m", "lmrepro.dvcgen", "write"], root)
    return root


def dvc_stages(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def affected_stages(stages: dict, key: str) -> set[str]:
    """Stages `dvc repro` reruns when params key ``key`` changes: its readers and
    everything downstream of their outputs."""
    def outs(stage):
        items = stage.get("outs", []) + stage.get("metrics", [])
        return {next(iter(o)) if isinstance(o, dict) else o for o in items}

    def reads(stage):
        return any(p == key or key.startswith(p + ".") or p.startswith(key + ".") for p in stage["params"])

    hit = {name for name, st in stages.items() if reads(st)}
    changed = True
    while changed:
        produced = set().union(*(outs(stages[n]) for n in hit)) if hit else set()
        new = {n for n, st in stages.items() if n not in hit and any(d in produced for d in st["deps"])}
        hit |= new
        changed = bool(new)
    return hit
