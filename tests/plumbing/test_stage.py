"""The stage harness, run as a real subprocess the way Snakemake and DVC run it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmrepro import io, tracking
from tests.conftest import REPO

RUNTIME = {"runtime": {"seed": 5, "threads": 1, "device": "cpu", "amp": False}}
BEAUTY = {"data.rec.datasets": ["beauty"], "data.rec.sources.beauty": {"file": "Beauty.txt"}}


def run_stage(module_args, root, env_extra=None, **kwargs):
    env = {**os.environ, "LMREPRO_ROOT": str(root), "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}", **(env_extra or {})}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, *module_args], cwd=root, env=env, capture_output=True, text=True, **kwargs)


def runs(root, status=None):
    client = tracking.client(root)
    exp = client.get_experiment_by_name(tracking.experiment_name("data"))
    found = client.search_runs([exp.experiment_id])
    found = [r for r in found if r.data.tags.get(tracking.PARENT_TAG) != "true"]  # stage runs only
    return [r for r in found if status is None or r.info.status == status]


def parents(root):
    client = tracking.client(root)
    exp = client.get_experiment_by_name(tracking.experiment_name("data"))
    return [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get(tracking.PARENT_TAG) == "true"]


@pytest.fixture
def rec_raw(tmp_root):
    raw = tmp_root / "raw"
    raw.mkdir()
    (raw / "Beauty.txt").write_text("1 1 2 3 4\n2 2 3 5\n3 4 5 1 2 3\n")
    return raw


def build_rec_args(raw, root, cfg):
    return ["-m", "lmrepro.stages.build_rec", "--dataset", "beauty", "--raw", str(raw), "--out", str(root / "out.parquet"),
            "--metrics", str(root / "m.json"), "--cfg", json.dumps(cfg), "--log", str(root / "log.txt")]


def test_good_run_writes_outputs_and_a_finished_tagged_run(tmp_root, rec_raw):
    cfg = {**BEAUTY, **RUNTIME}
    result = run_stage(build_rec_args(rec_raw, tmp_root, cfg), tmp_root, {"LMREPRO_INVOCATION_ID": "inv-1"})
    assert result.returncode == 0, (tmp_root / "log.txt").read_text()
    assert io.read_json(tmp_root / "m.json")["interactions"] == 12
    [run] = runs(tmp_root)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["lmrepro.stage"] == "build_rec" and json.loads(tags["lmrepro.wildcards"]) == {"dataset": "beauty"}
    assert tags["lmrepro.invocation_id"] == "inv-1" and tags["lmrepro.orchestrator"] == "cli"
    assert run.data.params["data.rec.datasets"] == "['beauty']" and run.data.params["runtime.seed"] == "5"
    assert run.data.metrics["interactions"] == 12
    assert run.inputs.dataset_inputs[0].dataset.name == "Beauty.txt"
    # a short name, the wildcard as a param, Source and user set, outputs by their final paths
    assert run.info.run_name == "build_rec" and run.data.params["dataset"] == "beauty"
    assert tags["mlflow.source.name"] == "src/lmrepro/stages/build_rec.py" and tags["mlflow.source.type"] == "JOB"
    assert tags["mlflow.user"] == run.info.user_id and tags["mlflow.user"]
    assert json.loads(tags["lmrepro.outputs"]) == ["out.parquet", "m.json"]
    # a native child of the invocation's parent run, which ended with its only child
    [parent] = parents(tmp_root)
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.tags["lmrepro.invocation_id"] == "inv-1" and parent.info.status == "FINISHED"


def test_a_run_logs_only_the_params_its_stage_read():
    """A rule may pass a whole section (rec.model: every model's geometry); the run's
    params are the runtime section, the wildcards and the part the stage read."""
    import argparse

    from lmrepro import stage as stagemod

    geometry = {"lightlm": {"d_model": 64}, "p5": {"d_model": 128}, "p5_small": {"d_model": 32}}
    ctx = stagemod.StageContext(stagemod.Stage("rec", "probe"), argparse.Namespace(), {"rec.model": geometry, **RUNTIME}, None)
    assert ctx.section("rec.model.lightlm") == {"d_model": 64}
    logged = stagemod.cfgmod.flatten(stagemod.params_tree(ctx.read))
    assert logged == {"rec.model.lightlm.d_model": 64}


def test_bad_params_exit_2_name_the_key_and_write_nothing(tmp_root, rec_raw):
    cfg = {**BEAUTY, "data.rec.sources.beauty": {"file": "Beauty.txt", "extra": 1}, "runtime": {"seed": 5, "threads": 0, "device": "cpu", "amp": False}}
    result = run_stage(build_rec_args(rec_raw, tmp_root, cfg), tmp_root)
    assert result.returncode == 2
    assert "stage build_rec failed, see" in result.stderr
    log = (tmp_root / "log.txt").read_text()
    assert "runtime.threads" in log and "extra" in log
    assert not (tmp_root / "out.parquet").exists() and not (tmp_root / "m.json").exists()


def test_bad_input_keeps_previous_outputs_and_run_ends_failed(tmp_root, rec_raw):
    cfg = {**BEAUTY, **RUNTIME}
    assert run_stage(build_rec_args(rec_raw, tmp_root, cfg), tmp_root).returncode == 0
    before = (tmp_root / "out.parquet").read_bytes()
    (rec_raw / "Beauty.txt").write_text("1 1 2 3 4\n2 2 oops 5\n")
    result = run_stage(build_rec_args(rec_raw, tmp_root, cfg), tmp_root)
    assert result.returncode == 2
    assert "Beauty.txt:2: expected integer ids" in (tmp_root / "log.txt").read_text()
    assert (tmp_root / "out.parquet").read_bytes() == before
    assert sorted(r.info.status for r in runs(tmp_root)) == ["FAILED", "FINISHED"]


def test_bug_after_writing_rolls_back_and_exits_1(tmp_root):
    out = tmp_root / "x" / "out.json"
    args = [str(Path(__file__).with_name("sleepy_stage.py")), "--out", str(out), "--fail-after-write", "--cfg", json.dumps(RUNTIME)]
    result = run_stage(args, tmp_root)
    assert result.returncode == 1 and "simulated bug" in result.stderr
    assert not out.exists()
    assert [r.info.status for r in runs(tmp_root)] == ["FAILED"]


def test_sigterm_ends_run_killed_and_sigkill_is_reaped_later(tmp_root):
    out = tmp_root / "x" / "out.json"
    env = {**os.environ, "LMREPRO_ROOT": str(tmp_root), "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, str(Path(__file__).with_name("sleepy_stage.py")), "--out", str(out), "--sleep", "60", "--cfg", json.dumps(RUNTIME)]

    def start_and_wait():
        proc = subprocess.Popen(cmd, cwd=tmp_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300  # imports are slow on a loaded 2-core machine
        while not (out.parent / "started").exists():
            assert time.time() < deadline and proc.poll() is None, "stage did not start"
            time.sleep(0.2)
        (out.parent / "started").unlink()
        return proc

    proc = start_and_wait()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert [r.info.status for r in runs(tmp_root)] == ["KILLED"]
    assert not out.exists()

    proc = start_and_wait()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert sorted(r.info.status for r in runs(tmp_root)) == ["KILLED", "RUNNING"]
    assert tracking.reap_stale_runs(tmp_root) == 1
    assert [r.info.status for r in runs(tmp_root)] == ["KILLED", "KILLED"]


def test_dvc_mode_reads_params_file_and_validates_it_whole(tmp_root, rec_raw):
    args = ["-m", "lmrepro.stages.build_rec", "--dataset", "beauty", "--raw", str(rec_raw), "--out", str(tmp_root / "out.parquet"),
            "--metrics", str(tmp_root / "m.json"), "--keys", "data.rec"]
    result = run_stage(args, tmp_root, {"DVC_STAGE": "build_rec@beauty"})
    assert result.returncode == 0, result.stderr
    assert runs(tmp_root)[0].data.tags["lmrepro.orchestrator"] == "dvc"
    params = (tmp_root / "params.yaml").read_text().replace("threads: 1", "threads: 1\n  bogus: 3")
    (tmp_root / "params.yaml").write_text(params)
    result = run_stage(args, tmp_root)
    assert result.returncode == 2 and "runtime.bogus" in result.stderr


def test_stage_start_rolls_back_scratch_files_of_killed_writers(tmp_root):
    out = tmp_root / "data" / "x" / "out.json"
    out.parent.mkdir(parents=True)
    stale = out.parent / ".tasks.parquet.bak-1a2b3c4d"  # a SIGKILL between the journal's renames
    stale.write_text("old output")
    live = tmp_root / "models" / f".m.tmp-{io._scratch_tag()}"  # this (live) process writing: kept
    live.mkdir(parents=True)
    args = [str(Path(__file__).with_name("sleepy_stage.py")), "--out", str(out), "--cfg", json.dumps(RUNTIME)]
    result = run_stage(args, tmp_root)
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and live.is_dir()
    assert (out.parent / "tasks.parquet").read_text() == "old output"  # the backup is put back
    assert f"rolled back data/x/{stale.name}" in result.stderr


def test_a_stage_process_exits_fast_with_its_code_its_exit_handlers_and_flushed_output(tmp_root):
    """`python -m lmrepro.stages.X` skips the interpreter's teardown (seconds per stage), but
    not what sys.exit guarantees: the exit code, the exit handlers and buffered output."""
    out, marker = tmp_root / "x" / "out.json", tmp_root / "atexit.txt"
    args = [str(Path(__file__).with_name("sleepy_stage.py")), "--out", str(out), "--at-exit", str(marker),
            "--cfg", json.dumps(RUNTIME)]
    result = run_stage(args, tmp_root)
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "exit handler ran"
    assert result.stdout == "buffered line on stdout"
    assert [r.info.status for r in runs(tmp_root)] == ["FINISHED"]
    failed = run_stage([*args, "--fail-after-write"], tmp_root)
    assert failed.returncode == 1 and "simulated bug" in failed.stderr


def test_a_missing_input_is_a_user_error_that_names_it(tmp_root):
    """An input that is not there (a DVC run with a deleted file, a hand-typed command) is
    exit 2 with the path, not a traceback."""
    missing = tmp_root / "data" / "rec" / "absent.parquet"
    cfg = {"rec.eval": {"exclude_history": False}, "rec.subset": {"max_users": 10, "seed": 0}, **RUNTIME}
    args = ["-m", "lmrepro.stages.rec_peer", "--dataset", "beauty", "--peer", "mostpop", "--interactions", str(missing),
            "--per-user", str(tmp_root / "pu.parquet"), "--metrics", str(tmp_root / "m.json"), "--cfg", json.dumps(cfg),
            "--log", str(tmp_root / "log.txt")]
    result = run_stage(args, tmp_root)
    log = (tmp_root / "log.txt").read_text()
    assert result.returncode == 2, log[-2000:]
    assert f"{missing}: input not found" in log and "Traceback" not in log
