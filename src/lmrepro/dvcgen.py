"""dvc.yaml generated from the Snakefile, and DVC bookkeeping after a Snakemake run.

The Snakefile is the single source of wiring. This module builds Snakemake's DAG of the
default target (params.yaml only, every job forced) and writes one DVC stage per job:
the same command with ``--cfg <json>`` replaced by ``--keys <dotted keys>`` (DVC reads
params.yaml and tracks exactly those keys), the job's inputs as deps (data and the
package sources the rule lists) and its outputs as outs. Outputs under reports/ are
committed to git, so DVC does not cache them; those under reports/metrics/ are DVC
metrics, cached (git ignores them) so that `dvc push`/`dvc pull` carry them.

    python -m lmrepro.dvcgen write    # regenerate dvc.yaml
    python -m lmrepro.dvcgen check    # exit 1 if the committed dvc.yaml is stale
    python -m lmrepro.dvcgen commit   # record finished stages in dvc.lock (after snakemake)
"""

from __future__ import annotations

import contextlib
import difflib
import io as _io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from lmrepro.errors import LmreproError
from lmrepro.paths import repo_root

PLOT_SUFFIXES = (".png", ".svg", ".csv")

HEADER = """\
# GENERATED from the Snakefile by `make dvc.yaml` (python -m lmrepro.dvcgen write).
# Do not edit by hand: tests fail when this file is stale.
"""


def _jobs(root: Path):
    """The jobs of Snakemake's DAG for the default target with params.yaml only."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, StorageSettings

    quiet = {Quietness.ALL}
    sink = _io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        with SnakemakeApi(OutputSettings(quiet=quiet, enable_file_logging=False)) as api:
            workflow_api = api.workflow(
                resource_settings=ResourceSettings(cores=1),
                config_settings=ConfigSettings(),
                storage_settings=StorageSettings(),
                workdir=root,
                snakefile=root / "Snakefile",
            )
            workflow_api.dag(DAGSettings(forceall=True))
            workflow = workflow_api._workflow
            workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
            workflow._build_dag()
            rule_order = {rule.name: i for i, rule in enumerate(workflow.rules)}
            jobs = []
            for job in workflow.dag.jobs:
                if job.rule.name == "all" or not job.rule.shellcmd:
                    continue
                jobs.append({
                    "rule": job.rule.name,
                    "order": rule_order[job.rule.name],
                    "wildcards": dict(job.wildcards_dict),
                    "input": [str(f) for f in job.input],
                    "output": [str(f) for f in job.output],
                    "cfg": str(job.params.get("cfg", "")) if hasattr(job.params, "get") else "",
                    "shellcmd": job.shellcmd,
                })
    return jobs


def _stage_name(job: dict) -> str:
    return "-".join([job["rule"], *map(str, job["wildcards"].values())])


def _dvc_cmd(job: dict) -> tuple[str, list[str]]:
    shellcmd = " ".join(job["shellcmd"].split())
    cfg_arg = job["cfg"]
    if not cfg_arg.startswith("--cfg "):
        raise LmreproError(f"rule {job['rule']}: params.cfg must come from cfg(...) in common.smk")
    if cfg_arg not in shellcmd:
        raise LmreproError(f"rule {job['rule']}: its shell command must contain {{params.cfg}}")
    keys = list(json.loads(shlex.split(cfg_arg)[1]))
    return shellcmd.replace(cfg_arg, "--keys " + " ".join(keys)), keys


def build(root: Path | None = None) -> str:
    root = root or repo_root()
    stages: dict[str, dict] = {}
    plots: list[str] = []
    for job in sorted(_jobs(root), key=lambda j: (j["order"], _stage_name(j))):
        cmd, keys = _dvc_cmd(job)
        outs, metrics = [], []
        for out in job["output"]:
            if out.startswith("reports/metrics/"):
                metrics.append(out)
            elif out in ("reports/metrics.json", "reports/claims.json"):  # committed to git, read by `dvc metrics`
                metrics.append({out: {"cache": False}})
            elif out.startswith("reports/"):
                outs.append({out: {"cache": False}})
            else:
                outs.append(out)
        stage: dict = {"cmd": cmd, "deps": sorted(dict.fromkeys(job["input"])), "params": keys}
        if outs:
            stage["outs"] = outs
        if metrics:
            stage["metrics"] = metrics
        stages[_stage_name(job)] = stage
        plots += [o for o in job["output"] if o.startswith("reports/") and o.endswith(PLOT_SUFFIXES)]
    spec: dict = {"stages": stages}
    if plots:
        spec["plots"] = sorted(dict.fromkeys(plots))  # `dvc plots show` / `dvc plots diff`
    body = yaml.safe_dump(spec, sort_keys=False, width=200)
    return HEADER + body


def write(root: Path | None = None) -> Path:
    from lmrepro.io import write_text

    root = root or repo_root()
    write_text(build(root), root / "dvc.yaml")
    return root / "dvc.yaml"


def check(root: Path | None = None) -> list[str]:
    """Diff lines between the committed dvc.yaml and a fresh one (empty when current)."""
    root = root or repo_root()
    path = root / "dvc.yaml"
    current = path.read_text() if path.is_file() else ""
    fresh = build(root)
    return list(difflib.unified_diff(current.splitlines(), fresh.splitlines(), "dvc.yaml (committed)", "dvc.yaml (from Snakefile)", lineterm=""))


def _stage_outputs(stage: dict) -> list[str]:
    return [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", []) + stage.get("metrics", [])]


def finished_stages(root: Path) -> list[str]:
    """Stages whose outputs all exist (what a Snakemake run may have produced)."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    done = []
    for name, stage in spec.items():
        outs = _stage_outputs(stage)
        if outs and all((root / o).exists() for o in outs):
            done.append(name)
    return done


def output_mtimes(root: Path, names: list[str]) -> dict[Path, int]:
    """mtime (ns) of every file and folder among these stages' outputs."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    times: dict[Path, int] = {}
    for name in names:
        for out in _stage_outputs(spec[name]):
            path = root / out
            paths = [path, *path.rglob("*")] if path.is_dir() else [path]
            for p in paths:
                if p.exists() and not p.is_symlink():
                    times[p] = p.stat().st_mtime_ns
    return times


def restore_mtimes(times: dict[Path, int]) -> None:
    # deepest first: setting a file's time never changes its folder's, but keep the order obvious
    for path in sorted(times, key=lambda p: len(p.parts), reverse=True):
        if path.exists():
            os.utime(path, ns=(times[path], times[path]), follow_symlinks=False)


def commit(root: Path | None = None) -> list[str]:
    """``dvc commit`` the finished stages, keeping every output's mtime.

    Why the mtimes: with a hardlink cache, dvc replaces an output whose content is already
    cached by a link to the cached copy, which carries the *old* copy's mtime. Snakemake
    then sees inputs newer than outputs and reruns half the DAG (found in a default run:
    data/nlu/tasks.parquet went back to the previous day, so every MTA stage looked stale).
    """
    root = root or repo_root()
    names = finished_stages(root)
    if names:
        times = output_mtimes(root, names)
        env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        result = subprocess.run([sys.executable, "-m", "dvc", "commit", "--force", *names], cwd=root, env=env, capture_output=True, text=True)
        restore_mtimes(times)
        if result.returncode != 0:
            raise LmreproError(f"dvc commit failed: {result.stderr.strip() or result.stdout.strip()}")
    return names


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmrepro.dvcgen")
    parser.add_argument("action", choices=["write", "check", "commit", "print"])
    args = parser.parse_args(argv)
    try:
        if args.action == "write":
            print(f"wrote {write()}")
        elif args.action == "print":
            sys.stdout.write(build())
        elif args.action == "check":
            diff = check()
            if diff:
                print("dvc.yaml is stale; run `make dvc.yaml`:\n" + "\n".join(diff[:80]), file=sys.stderr)
                return 1
            print("dvc.yaml is current")
        else:
            names = commit()
            print(f"dvc.lock: recorded {len(names)} finished stage(s)")
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
