"""Running the pipeline in a throwaway copy of the repository (end-to-end tests)."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lmrepro.tools.smoke_copy import copy_env, copy_sources, git_commit
from lmrepro.tools.smoke_copy import smoke_copy as tools_smoke_copy
from tests.conftest import REPO, SHARED_DATA  # noqa: F401 (re-exported)

BIN = Path(sys.executable).parent


def _env(cwd, env_extra=None) -> dict:
    return copy_env(Path(cwd), SHARED_DATA, env_extra)


def sh(cmd, cwd, check=True, timeout=3000, env_extra=None):
    env = _env(cwd, env_extra)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str), timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def spawn(cmd: list[str], cwd: Path, log: Path, env_extra=None) -> subprocess.Popen:
    """``cmd`` in the background (own process group, output to ``log``), with sh's environment."""
    with open(log, "w") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=_env(cwd, env_extra), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def server_env() -> dict[str, str]:
    """An `mlflow server`'s environment as `make ui` sets it: without MLflow's GenAI job
    runners (seven huey processes that took CPU from the pipeline's stages on 2 cores)."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start_tracking_server(store: Path, log_path: Path, artifacts: Path | None = None):
    """`mlflow server` on the SQLite file ``store`` (proxied artifacts in ``artifacts`` if
    given) on a free loopback port, one worker, started in the store's folder; yields its URI
    once /health answers, and stops it by process group."""
    port = free_port()
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{store}", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    if artifacts is not None:
        cmd += ["--artifacts-destination", str(artifacts)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=store.parent, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=server_env())
        uri = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{uri}/health", timeout=5):
                        break
                except OSError:
                    assert proc.poll() is None, log_path.read_text()[-3000:]
                    assert time.time() < deadline, "tracking server did not start"
                    time.sleep(1)
            yield uri
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.poll() is not None


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
    git_commit(root, "clone")
    return root


def head(root: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def lock_entries(root: Path) -> dict:
    path = root / "dvc.lock"
    return yaml.safe_load(path.read_text())["stages"] if path.is_file() else {}


def changed_stages(root: Path, names) -> set[str]:
    """Which of these stages `dvc status` reports as changed (not up to date)."""
    import json

    out = sh([sys.executable, "-m", "dvc", "status", "--json", *names], root).stdout
    return set(json.loads(out or "{}"))


def smoke_copy(dest: Path) -> Path:
    """A git repo copy whose params.yaml is the smoke profile (so DVC reads it too);
    the recipe the pipeline benchmark uses (lmrepro.tools.smoke_copy)."""
    return tools_smoke_copy(REPO, dest, SHARED_DATA)


def dvc_stages(root: Path) -> dict:
    """dvc.yaml's stages, matrix/foreach entries expanded to the names DVC gives them."""
    from lmrepro import dvcgen

    return dvcgen.load_stages(root)


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


# What a run produces (the rest is per-run state by design: logs/, mlflow.db, mlartifacts/,
# .snakemake/, benchmarks/), and within it what differs between two runs by design: wall
# times (reports/<track>/timing/*.json, reports/timing.md) and the links to this run's
# MLflow runs (reports/provenance.md).
OUTPUT_DIRS = ("data", "models", "reports")
PER_RUN_PAGES = ("reports/timing.md", "reports/provenance.md")


def is_per_run(rel: str) -> bool:
    parts = rel.split("/")
    return rel in PER_RUN_PAGES or (len(parts) == 4 and parts[0] == "reports" and parts[2] == "timing")


@dataclass
class Snapshot:
    """sha256 of every output of a run; the text of small files, to show a diff."""

    digests: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    per_run: list[str] = field(default_factory=list)


def snapshot(root: Path) -> Snapshot:
    snap = Snapshot()
    for top in OUTPUT_DIRS:
        for path in sorted((root / top).rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            if is_per_run(rel):
                snap.per_run.append(rel)
                continue
            data = path.read_bytes()
            snap.digests[rel] = hashlib.sha256(data).hexdigest()
            if len(data) < 200_000:
                try:
                    snap.texts[rel] = data.decode("utf-8")
                except UnicodeDecodeError:
                    pass
    return snap


def differences(a: Snapshot, b: Snapshot, context: int = 2, max_lines: int = 12) -> list[str]:
    """One line per file that is in one run only or differs, with the first lines of a
    unified diff for text files."""
    out = [f"{rel}: only in run {'1' if rel in a.digests else '2'}" for rel in sorted(a.digests.keys() ^ b.digests.keys())]
    for rel in sorted(a.digests.keys() & b.digests.keys()):
        if a.digests[rel] == b.digests[rel]:
            continue
        out.append(f"{rel}: content differs")
        if rel in a.texts and rel in b.texts:
            diff = list(difflib.unified_diff(a.texts[rel].splitlines(), b.texts[rel].splitlines(), "run 1", "run 2",
                                             n=context, lineterm=""))[2:]
            out += [f"    {line[:160]}" for line in diff[:max_lines]]
    return out
