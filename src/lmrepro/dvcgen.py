"""dvc.yaml generated from the Snakefile, and DVC bookkeeping after a Snakemake run.

The Snakefile is the single source of wiring. This module builds Snakemake's DAG of the
default target (params.yaml only, every job forced) and writes one DVC stage per job:
the same command with ``--cfg <json>`` replaced by ``--keys <dotted keys>`` (DVC reads
params.yaml and tracks exactly those keys), the job's inputs as deps (data and the
package sources the rule lists) and its outputs as outs. Outputs under reports/ are
committed to git, so DVC does not cache them; the per-stage metrics files under
reports/metrics/ are cached outs (git ignores them) so that `dvc push`/`dvc pull` carry
them. DVC's metrics are the small headline files only (reports/headline/<track>.json,
see lmrepro.dvcviews), and its plots the x/y tables under reports/plots/ plus the PNGs.

A rule with wildcards becomes one templated stage: ``matrix`` where its jobs are the full
product of the wildcard values, else ``foreach`` over a dict keyed the way DVC names
matrix stages. Either way the job ``rule`` with wildcards ``a=x, b=y`` is the DVC stage
``rule@x-y`` (a rule without wildcards keeps its name), so `dvc repro rule@x-y`,
``dvc status`` and the ``commit`` below address single jobs, and dvc.yaml stays short.
:func:`load_stages` expands the templates the way DVC does (a test compares the two).

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
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lmrepro import dvcviews
from lmrepro.errors import LmreproError
from lmrepro.paths import repo_root

PLOT_SUFFIXES = (".png", ".svg", ".csv")
HEADLINE_FILES = set(dvcviews.headline_paths())
PLOT_TABLES = set(dvcviews.plot_paths())

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
    """The DVC stage of a Snakemake job: ``rule``, or ``rule@v1-v2`` with its wildcard
    values in order (the name DVC gives a ``matrix`` stage's item)."""
    values = [str(v) for v in wildcards.values()]
    return f"{rule}@{'-'.join(values)}" if values else rule


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


def _job_stage(job: dict) -> dict:
    """The DVC stage of one job, fully expanded."""
    cmd, keys = _dvc_cmd(job)
    outs, metrics = [], []
    for out in job["output"]:
        if out in HEADLINE_FILES:  # committed to git, what `dvc metrics show/diff` read
            metrics.append({out: {"cache": False}})
        elif out.startswith("reports/metrics/"):  # per-stage numbers: DVC-cached, not DVC metrics
            outs.append(out)
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
    return stage


_TOKEN = "(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"  # a wildcard value as a whole word of a path or command


def _map_strings(obj: Any, fn) -> Any:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, list):
        return [_map_strings(v, fn) for v in obj]
    if isinstance(obj, dict):
        return {_map_strings(k, fn): _map_strings(v, fn) for k, v in obj.items()}
    return obj


def _abstract(stage: dict, wildcards: dict, whole_words: bool = True) -> dict:
    """``stage`` with each wildcard value replaced by ``${item.<wildcard>}`` (longest first):
    as whole words (``sci`` not inside ``sci_leak``), or anywhere (``2022`` in ``s2022``)."""
    pairs = sorted(wildcards.items(), key=lambda kv: -len(str(kv[1])))
    pattern = _TOKEN if whole_words else "{}"

    def fn(text: str) -> str:
        for name, value in pairs:
            text = re.sub(pattern.format(re.escape(str(value))), "${item.%s}" % name, text)
        return text

    return _map_strings(stage, fn)


def _render(template: dict, item: dict, key: str | None = None) -> dict:
    """DVC's interpolation of ``${item.x}`` (and ``${key}`` in a foreach) in every string."""
    def fn(text: str) -> str:
        text = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)
        return text.replace("${key}", key) if key is not None else text

    return _map_strings(template, fn)


def _canonical(stage: dict) -> dict:
    """Order-free form of a stage for comparisons (DVC does not care about list order)."""
    return {k: sorted(v, key=json.dumps) if isinstance(v, list) else v for k, v in stage.items()}


def _templated(rule: str, jobs: list[dict]) -> dict:
    """One dvc.yaml entry (matrix or foreach) that expands to exactly these jobs' stages."""
    names = list(jobs[0]["wildcards"])
    if any(list(j["wildcards"]) != names for j in jobs):
        raise LmreproError(f"rule {rule}: its jobs have different wildcards")
    stages = [(dict(j["wildcards"]), _job_stage(j)) for j in jobs]
    # the first abstraction (of any job, whole words first) that reproduces every job
    tries = ((w, st, whole) for whole in (True, False) for w, st in stages)
    for wildcards, candidate, whole in tries:
        template = _abstract(candidate, wildcards, whole)
        if all(_canonical(_render(template, w)) == _canonical(st) for w, st in stages):
            break
    else:
        raise LmreproError(f"rule {rule}: no template with ${{item.<wildcard>}} reproduces all its jobs "
                           "(a wildcard value also occurs as a fixed word in its command or paths?)")
    values = {n: list(dict.fromkeys(str(w[n]) for w, _ in stages)) for n in names}
    combos = {tuple(str(w[n]) for n in names) for w, _ in stages}
    if combos == set(itertools.product(*values.values())):
        return {"matrix": values, **template}
    items = {"-".join(str(w[n]) for n in names): {n: str(w[n]) for n in names} for w, _ in stages}
    return {"foreach": dict(sorted(items.items())), "do": template}


def build(root: Path | None = None) -> str:
    root = root or repo_root()
    by_rule: dict[str, list[dict]] = {}
    order: dict[str, int] = {}
    plots: list = []
    for job in sorted(_jobs(root), key=lambda j: (j["order"], _stage_name(j))):
        by_rule.setdefault(job["rule"], []).append(job)
        order[job["rule"]] = job["order"]
        for out in job["output"]:
            if out in PLOT_TABLES:
                plots.append(dvcviews.dvc_plot_entry(out))
            elif out.startswith("reports/") and out.endswith(PLOT_SUFFIXES):
                plots.append(out)
    stages: dict[str, dict] = {}
    for rule in sorted(by_rule, key=order.__getitem__):
        jobs = by_rule[rule]
        if jobs[0]["wildcards"]:
            stages[rule] = _templated(rule, jobs)
        else:
            stages[rule] = _job_stage(jobs[0])
    spec: dict = {"stages": stages}
    if plots:  # `dvc plots show` / `dvc plots diff`: x/y tables first, then the figures
        tables = sorted((p for p in plots if isinstance(p, dict)), key=lambda p: next(iter(p)))
        images = sorted(dict.fromkeys(p for p in plots if isinstance(p, str)))
        spec["plots"] = [*tables, *images]
    body = yaml.safe_dump(spec, sort_keys=False, width=200)
    return HEADER + body


def expand_stages(stages: dict) -> dict[str, dict]:
    """dvc.yaml's ``stages`` with every matrix/foreach entry expanded, named as DVC names them."""
    out: dict[str, dict] = {}
    for name, stage in stages.items():
        if "matrix" in stage:
            template = {k: v for k, v in stage.items() if k != "matrix"}
            keys = list(stage["matrix"])
            for combo in itertools.product(*(stage["matrix"][k] for k in keys)):
                item = dict(zip(keys, map(str, combo)))
                out[f"{name}@{'-'.join(item.values())}"] = _render(template, item)
        elif "foreach" in stage:
            for key, item in stage["foreach"].items():
                out[f"{name}@{key}"] = _render(stage["do"], item, key)
        else:
            out[name] = stage
    return out


def load_stages(root: Path | None = None) -> dict[str, dict]:
    """The expanded stages of ``root``'s dvc.yaml (what `dvc stage list` lists)."""
    root = root or repo_root()
    path = root / "dvc.yaml"
    if not path.is_file():
        raise LmreproError(f"{path}: not found (run `make dvc.yaml`)")
    return expand_stages(yaml.safe_load(path.read_text())["stages"])


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
    spec = load_stages(root)
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
    spec = load_stages(root)
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
    known = set(load_stages(root))
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
