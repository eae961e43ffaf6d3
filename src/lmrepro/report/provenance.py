"""Which MLflow run wrote each file that results.md is built from.

Every stage run carries the list of files it wrote (tag ``lmrepro.outputs``); the most
recent FINISHED run that wrote a file is its provenance. The table links each file to
its run in the MLflow UI, so a reader can go from a number to its params, curves and log.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmrepro import tracking


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
