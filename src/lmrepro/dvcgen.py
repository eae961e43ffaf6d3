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
    python -m lmrepro.dvcgen commit STAGE...   # record these stages' outputs in dvc.lock

After a Snakemake run with params.yaml only, the Snakefile's ``onsuccess`` hook calls
:func:`record_invocation`: it records in dvc.lock exactly the stages of that invocation's
DAG that ran, plus those Snakemake found up to date whose outputs its metadata shows were
made by the same command (same ``--cfg`` params, same inputs, inputs not newer). Outputs
left by a profile overlay, a ``--config`` run or an older command are never recorded: in
dvc.lock those stages keep their previous entry, so ``dvc status`` reports them changed.
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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def stage_name(rule: str, wildcards: dict) -> str:
    """The DVC stage of a Snakemake job: rule name, then wildcard values in order."""
    return "-".join([rule, *map(str, wildcards.values())])


def _stage_name(job: dict) -> str:
    return stage_name(job["rule"], job["wildcards"])


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
        # absolute inputs lie outside the repository (the raw-data mirror's files): machine-specific, no deps
        deps = [d for d in job["input"] if not Path(d).is_absolute()]
        stage: dict = {"cmd": cmd, "deps": sorted(dict.fromkeys(deps)), "params": keys}
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


def commit(root: Path | None = None, names: list[str] | tuple[str, ...] = ()) -> list[str]:
    """``dvc commit`` exactly these stages, keeping every output's mtime.

    Why only named stages: committing every stage whose outputs exist recorded outputs
    that another profile or an older run had left (dvc.lock then vouched for smoke
    numbers), failed on stages whose deps were absent, and took minutes.

    Why the mtimes: with a hardlink cache, dvc replaces an output whose content is already
    cached by a link to the cached copy, which carries the *old* copy's mtime. Snakemake
    then sees inputs newer than outputs and reruns half the DAG (found in a default run:
    data/nlu/tasks.parquet went back to the previous day, so every MTA stage looked stale).
    """
    root = root or repo_root()
    names = list(dict.fromkeys(names))
    if not names:
        return []
    spec = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    unknown = [n for n in names if n not in spec]
    if unknown:
        raise LmreproError(f"dvc.yaml: no stage {', '.join(unknown)} (stale? run `make dvc.yaml`)")
    missing = [f"{n}: {o}" for n in names for o in _stage_outputs(spec[n]) if not (root / o).exists()]
    if missing:
        raise LmreproError("cannot record stages whose outputs are missing:\n  " + "\n  ".join(missing))
    times = output_mtimes(root, names)
    try:
        _dvc_commit(root, names)
    finally:
        restore_mtimes(times)
    return names


def _dvc_commit(root: Path, names: list[str]) -> None:
    """What ``dvc commit --force NAME...`` does, with dvc.yaml and dvc.lock read and
    written once for all stages.

    Why not the CLI: it handles its targets one by one, parsing dvc.yaml and dvc.lock
    (74 stages, ~700 deps) about eight times per target with a pure-Python YAML parser;
    that took four minutes for the whole DAG and ~30 s for two stages on two busy cores.
    """
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.exceptions import DvcException
    from dvc.repo import Repo, lock_repo

    try:
        with contextlib.chdir(root), Repo(str(root)) as repo, lock_repo(repo):  # dvc resolves paths from cwd
            stages = {stage.name: stage for stage in repo.stage.load_all("dvc.yaml")}
            chosen = [stages[name] for name in names]
            for stage in chosen:
                stage.save()
                stage.commit(relink=True)
            chosen[0].dvcfile.dump_stages(chosen, update_pipeline=False)
    except DvcException as err:
        raise LmreproError(f"dvc commit {' '.join(names)} failed: {err}") from err


@dataclass
class Invocation:
    """The DVC stages of one Snakemake invocation's DAG, by what is known of their outputs."""

    ran: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # up to date, made by the same command
    unverified: dict[str, str] = field(default_factory=dict)  # up to date, but why not recordable
    not_in_dvc: list[str] = field(default_factory=list)  # jobs outside the default target's DAG

    @property
    def to_commit(self) -> list[str]:
        return sorted([*self.ran, *self.verified])


def _mtime(path: Path) -> float:
    """Newest mtime of a file, or of a folder and everything in it."""
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    return max(p.stat().st_mtime for p in paths)


def why_not_verified(job: Any, persistence: Any, root: Path) -> str | None:
    """None when Snakemake's metadata shows this up-to-date job's outputs came from the
    very command it would run now; else the reason (recorded in no dvc.lock entry).

    Checked per output: a metadata record exists and is complete, its shell command equals
    the job's (the command carries ``--cfg`` with the exact params values), its input list
    equals the job's, and no input is newer than the recorded end of that run. This holds
    whatever ``--rerun-triggers`` the user chose.
    """
    inputs = sorted(str(f) for f in job.input)
    newest_input = max((_mtime(root / f) for f in inputs), default=0.0) if all((root / f).exists() for f in inputs) else None
    if newest_input is None:
        return "an input is missing"
    for out in job.output:
        if not (root / str(out)).exists():
            return f"{out} is missing"
        record = persistence.metadata(out)
        if record is None:
            return f"{out} has no Snakemake metadata (made outside Snakemake, e.g. a git checkout or dvc)"
        if record.incomplete:
            return f"{out} is marked incomplete"
        if " ".join((record.shellcmd or "").split()) != " ".join((job.shellcmd or "").split()):
            return f"{out} was made by another command (other params, e.g. a profile overlay)"
        if sorted(map(str, record.input or [])) != inputs:
            return f"{out} was made from other inputs"
        if record.endtime is None or newest_input > record.endtime:
            return f"an input of {out} is newer than it"
    return None


def invocation_stages(workflow: Any, root: Path | None = None) -> Invocation:
    """Classify the jobs of the DAG that ``workflow`` (Snakemake's, in ``onsuccess``) just ran."""
    root = root or repo_root()
    known = set(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])
    dag, result = workflow.dag, Invocation()
    for job in dag.jobs:
        if not job.rule.shellcmd:  # `rule all` and other aggregations
            continue
        name = stage_name(job.rule.name, dict(job.wildcards_dict))
        if name not in known:
            result.not_in_dvc.append(name)
        elif dag.finished(job):
            result.ran.append(name)
        elif dag.needrun(job):  # cannot happen after a successful run; be safe
            result.unverified[name] = "did not run"
        elif (why := why_not_verified(job, workflow.persistence, root)) is not None:
            result.unverified[name] = why
        else:
            result.verified.append(name)
    return result


def record_invocation(workflow: Any, root: Path | None = None) -> Invocation:
    """The ``onsuccess`` hook's work: commit this invocation's stages to dvc.lock, say so."""
    root = root or repo_root()
    if workflow.touch:
        print("lmrepro: dvc.lock left as it was: --touch runs nothing")
        return Invocation()
    started = time.perf_counter()
    found = invocation_stages(workflow, root)
    if found.to_commit:
        # DVC in its own process: its imports, logging and locks stay out of Snakemake's.
        env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        cmd = [sys.executable, "-m", "lmrepro.dvcgen", "commit", *found.to_commit]
        result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise LmreproError(result.stderr.strip() or result.stdout.strip())
    print(
        f"lmrepro: dvc.lock: recorded {len(found.ran)} stage(s) this run ran and {len(found.verified)} "
        f"it found up to date ({time.perf_counter() - started:.1f} s)"
    )
    for name, why in sorted(found.unverified.items()):
        print(f"lmrepro: dvc.lock: {name} left as it was: {why}")
    if found.not_in_dvc:
        print(f"lmrepro: dvc.lock: {len(found.not_in_dvc)} job(s) outside the default target have no DVC stage")
    return found


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmrepro.dvcgen")
    parser.add_argument("action", choices=["write", "check", "commit", "print"])
    parser.add_argument("stages", nargs="*", help="commit: the DVC stages to record (their outputs must exist)")
    args = parser.parse_args(argv)
    if args.action == "commit" and not args.stages:
        parser.error("commit: name the stages to record (after `snakemake`, its onsuccess hook records what it ran)")
    if args.action != "commit" and args.stages:
        parser.error(f"{args.action} takes no stage names")
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
            names = commit(names=args.stages)
            print(f"dvc.lock: recorded {len(names)} stage(s)")
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
