"""Which MLflow run wrote each file that results.md is built from.

Every stage run carries the list of files it wrote (tag ``lmrepro.outputs``); the most
recent FINISHED run that wrote a file is its provenance. The table links each file to
its run in the MLflow UI, so a reader can go from a number to its params, curves and log.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lmrepro import tracking

# What the pipeline itself rewrites in the repository while it runs (reports, dvc.lock):
# a change there is the run's output, not an uncommitted change to what produced it.
PIPELINE_WRITES = ("reports/", "dvc.lock")


def source_state(root: Path) -> tuple[str, list[str]]:
    """(commit, tracked files changed since that commit, outside :data:`PIPELINE_WRITES`).

    Why not ``tracking.git_state``: a rerun of a committed pipeline rewrites the committed
    reports before ``evaluate`` runs, so "dirty" there was true for every reproduction and
    results.md claimed uncommitted changes that were only its own outputs. Outside git:
    ("unknown", ["(not a git checkout)"]), so the stamp never claims a clean state it
    could not check."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "-z"], cwd=root,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", ["(not a git checkout)"]
    changed, entries = [], iter(status.split("\0"))
    for entry in entries:
        if len(entry) > 3:
            changed.append(entry[3:])
            if entry[0] in "RC":  # a rename or copy: its source path follows as its own field
                changed.append(next(entries, ""))
    return commit, sorted(p for p in changed if not p.startswith(PIPELINE_WRITES))


def source_stamp(commit: str, changed: list[str]) -> str:
    """The commit as results.md states it, naming up to three changed source files."""
    if not changed:
        return f"git commit `{commit[:12]}`"
    shown = ", ".join(f"`{p}`" for p in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"git commit `{commit[:12]}` with uncommitted changes to {shown}"


def _relative(path: Path, root: Path) -> str:
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def latest_writers(root: Path) -> dict[str, dict]:
    """{relative output path: {stage, run_id, experiment_id, started}} of the newest writer."""
    client = tracking.client(root)
    experiments = [e.experiment_id for e in tracking.retry(client.search_experiments) if e.name.startswith(tracking.EXPERIMENT_PREFIX)]
    if not experiments:
        return {}
    runs = tracking.retry(
        client.search_runs, experiments, filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=5000,
    )
    writers: dict[str, dict] = {}
    for run in runs:
        outputs = json.loads(run.data.tags.get("lmrepro.outputs", "[]"))
        for out in outputs:
            writers.setdefault(_relative(Path(out), root), {
                # run names are the stage alone; the label adds the wildcards (rec_train[dataset=...])
                "stage": tracking.run_label(run.data.tags) if "lmrepro.stage" in run.data.tags else run.info.run_name,
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id, "started": run.info.start_time,
            })
    return writers


def provenance_section(root: Path, files: list[Path], ui: str = "http://127.0.0.1:5000") -> str:
    writers = latest_writers(root)
    lines = [
        "## Provenance",
        "",
        f"The MLflow run that wrote each input of this report (open with `make ui`, then {ui}).",
        "",
        "| file | stage run | run id |",
        "|---|---|---|",
    ]
    for f in sorted({_relative(Path(p), root) for p in files}):
        w = writers.get(f)
        if w is None:
            lines.append(f"| {f} | (no tracked run) | |")
            continue
        link = f"{ui}/#/experiments/{w['experiment_id']}/runs/{w['run_id']}"
        lines.append(f"| {f} | {w['stage']} | [{w['run_id'][:12]}]({link}) |")
    return "\n".join(lines) + "\n"
