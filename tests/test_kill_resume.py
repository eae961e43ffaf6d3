"""Kill and go on: after a SIGKILL at a random job, `make reproduce` unlocks, reruns what
the kill interrupted, and ends with the same metrics as an uninterrupted run.

A small target subset of the smoke DAG (four jobs) keeps it to a few minutes; both runs
use the same targets, in copies whose params.yaml is the smoke profile.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.faults import first_line, lost_summary
from tests.pipeline_helpers import BIN, SHARED_DATA, changed_stages, sh, smoke_copy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

TARGETS = ["reports/metrics/rec/index-beauty-random.json", "reports/metrics/rec/index-beauty-sci.json"]
STAGES = ["fetch@rec", "build_rec@beauty", "rec_index@beauty-random", "rec_index@beauty-sci"]
SEED = int(os.environ.get("LMREPRO_KILL_SEED", "20"))
# What a user has: make's own variables, but the venv of the test session (no install).
MAKE = ["make", "-o", ".venv/.installed", "-o", ".venv/bin/python", "reproduce", "CORES=1", f"TARGETS={' '.join(TARGETS)}"]


def metrics(root: Path) -> dict[str, object]:
    return {str(p.relative_to(root)): json.loads(p.read_text()) for p in sorted((root / "reports" / "metrics").rglob("*.json"))}


def running_stage_runs(root: Path) -> int:
    """Stage runs open in MLflow's store right now (read with sqlite, as MLflow writes it)."""
    import sqlite3

    if not (root / "mlflow.db").is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{root / 'mlflow.db'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                              "WHERE r.status = 'RUNNING' AND t.key = 'lmrepro.stage'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return 0


def kill_at_random_job(root: Path, rng: random.Random) -> int:
    """Start the run; once a random job has opened its MLflow run, SIGKILL the run's whole
    process group (snakemake and its jobs) a random moment later."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "LMREPRO_DATA_MIRROR": str(SHARED_DATA),
           "PYTHONPATH": str(root / "src")}
    for var in ("LMREPRO_ROOT", "MLFLOW_TRACKING_URI", "LMREPRO_INVOCATION_ID", "LMREPRO_ORCHESTRATOR"):
        env.pop(var, None)
    victim, delay = rng.randint(1, len(STAGES)), rng.uniform(0.0, 0.5)
    proc = subprocess.Popen(["snakemake", "--cores", "1", "--forceall", *TARGETS], cwd=root, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    started = threading.Event()
    lines: list[str] = []

    def watch():
        jobs = 0
        for line in proc.stderr:
            lines.append(line)
            if re.match(r"^(local)?rule \w+:", line):
                jobs += 1
                if jobs == victim:
                    started.set()
        started.set()  # the run ended before the victim job: the test fails below

    threading.Thread(target=watch, daemon=True).start()
    assert started.wait(timeout=900), "the victim job never started"
    deadline = time.time() + 600
    while not running_stage_runs(root):  # kill while a stage's MLflow run is open
        assert proc.poll() is None and time.time() < deadline, f"no stage run opened:\n{''.join(lines)[-3000:]}"
        time.sleep(0.1)
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended before the kill (job {victim}):\n{''.join(lines)[-3000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return victim


def test_killed_run_goes_on_with_make_reproduce(tmp_path, record_fault):
    ref = smoke_copy(tmp_path / "ref")
    root = tmp_path / "killed"
    shutil.copytree(ref, root, symlinks=True)

    sh(MAKE, ref)  # the uninterrupted run
    victim = kill_at_random_job(root, random.Random(SEED))
    assert list((root / ".snakemake" / "locks").glob("*.lock")), "the kill left no lock: nothing was tested"

    again = sh(MAKE, root)
    out = again.stdout + again.stderr
    assert len(re.findall(r"removed a stale Snakemake lock", out)) == 1, out[-3000:]
    assert metrics(root) == metrics(ref), f"killed at job {victim}"
    assert set(metrics(ref)) >= {"reports/metrics/rec/index-beauty-random.json", "reports/metrics/rec/index-beauty-sci.json"}

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("lmrepro-")]
    assert not client.search_runs(exps, filter_string="attributes.status = 'RUNNING'"), "a killed stage run was not reaped"
    reaped = client.search_runs(exps, filter_string="attributes.status = 'KILLED'")
    assert [r.data.tags.get("lmrepro.reaped") is not None for r in reaped] == [True], "the killed stage's run"
    finished = client.search_runs(exps, filter_string="attributes.status = 'FINISHED'", max_results=1000)
    assert {r.data.tags.get("lmrepro.stage") for r in finished} >= {"fetch", "build_rec", "rec_index"}
    # the resumed run recorded its stages: dvc agrees with what is on disk
    assert not changed_stages(root, STAGES)
    assert not [p for d in ("data", "models", "reports") for p in (root / d).rglob(".*.*-*") if "bak-" in p.name or "tmp-" in p.name]
    sh([sys.executable, "-m", "lmrepro.unlock"], root)  # nothing to do now, says nothing
    same = [k for k in metrics(ref) if metrics(root).get(k) == metrics(ref)[k]]
    record_fault("SIGKILL of the whole run mid-stage, then resume",
                 f"SIGKILL to snakemake's process group once job {victim} of {len(STAGES)} had started and a stage's "
                 f"MLflow run was open (seed {SEED}); then `make reproduce` again",
                 f"`make reproduce` exit {again.returncode}: {first_line(out, 'removed a stale Snakemake lock')}",
                 lost_summary(lost=sorted(set(metrics(ref)) - set(same)),
                              checked=f"{len(same)}/{len(metrics(ref))} metrics files equal to an uninterrupted run's; "
                              f"{len(reaped)} killed MLflow run marked KILLED, none left RUNNING"))
