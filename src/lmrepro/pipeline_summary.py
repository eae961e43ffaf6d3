"""The pipeline summary run that closes one snakemake invocation (its onsuccess/onerror).

Why a module apart from :mod:`lmrepro.tracking`: two rules may run the same stage module
with the same wildcards (rec_peer serves the peers and the protocol check), so the
``stage[wildcards]`` label is not unique within an invocation, and MLflow refuses a batch
with two equal param keys: the summary crashed after every stage had finished and the
run's dvc.lock record was never written. Here labels are made unique (the run id is
appended to a repeated one) and a failing summary is a warning, never a failed pipeline:
tracking must not decide whether results exist.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from lmrepro import tracking
from lmrepro.paths import output_root, repo_root


def unique_labels(labels: list[tuple[str, str]]) -> dict[str, str]:
    """[(run id, label)] -> {run id: label}, a repeated label suffixed with ``#<run id[:8]>``."""
    counts = Counter(label for _, label in labels)
    return {rid: (label if counts[label] == 1 else f"{label}#{rid[:8]}") for rid, label in labels}


def summarize_invocation(invocation_id: str, status: str = "FINISHED", root: Path | None = None) -> str | None:
    """One run in the 'pipeline' experiment per invocation (params: the stage run ids by
    unique label; metrics: stages, failures, summed stage time, reports/metrics.json)."""
    from mlflow.entities import Metric, Param

    root = root or repo_root()
    c = tracking.client(root)
    retry = tracking.retry
    experiments = {e.experiment_id: e.name for e in retry(c.search_experiments)
                   if e.name.startswith(tracking.EXPERIMENT_PREFIX)}
    runs = retry(c.search_runs, list(experiments),
                 filter_string=f"tags.`lmrepro.invocation_id` = '{invocation_id}'", max_results=5000)
    for parent in (r for r in runs if r.data.tags.get(tracking.PARENT_TAG) == "true"):
        retry(c.set_terminated, parent.info.run_id, status=status)  # the orchestrator's verdict
    runs = [r for r in runs if "lmrepro.stage" in r.data.tags]
    if not runs:
        return None
    labels = unique_labels([(r.info.run_id, tracking.run_label(r.data.tags)) for r in runs])
    commit, dirty = tracking.git_state(root)
    who = tracking.orchestrator()
    summary = retry(
        c.create_run, tracking.ensure_experiment("pipeline", root), run_name=f"pipeline-{invocation_id[:8]}",
        tags={"lmrepro.invocation_id": invocation_id, "lmrepro.git_commit": commit,
              "lmrepro.git_dirty": str(dirty).lower(), "lmrepro.orchestrator": who,
              "mlflow.source.git.commit": commit, "mlflow.source.name": who, "mlflow.source.type": "JOB",
              "mlflow.user": tracking.user()},
    )
    run_id = summary.info.run_id
    try:
        table = sorted(
            ({"stage": labels[r.info.run_id], "run_id": r.info.run_id, "experiment": experiments[r.info.experiment_id],
              "experiment_id": r.info.experiment_id, "status": r.info.status,
              "seconds": r.data.metrics.get("stage_seconds")} for r in runs),
            key=lambda row: row["stage"],
        )
        now = int(time.time() * 1000)
        metrics = [
            Metric("stages", len(table), now, 0),
            Metric("stages_failed", sum(row["status"] != "FINISHED" for row in table), now, 0),
            Metric("stage_seconds_total", sum(row["seconds"] or 0 for row in table), now, 0),
        ]
        collected = output_root(root) / "reports" / "metrics.json"
        if collected.is_file():
            flat = flatten_numbers(json.loads(collected.read_text()))
            metrics += [Metric(tracking._metric_key(k)[:250], v, now, 0) for k, v in sorted(flat.items())]
        params = list({p.key: p for p in (Param(tracking._metric_key(f"run.{row['stage']}")[:250], row["run_id"])
                                          for row in table)}.values())
        for i in range(0, len(metrics), 500):
            retry(c.log_batch, run_id, metrics=metrics[i : i + 500], synchronous=True)
        for i in range(0, len(params), 100):
            retry(c.log_batch, run_id, params=params[i : i + 100], synchronous=True)
        retry(c.log_dict, run_id, {"stage_runs": table}, "stage_runs.json")
        lines = ["| stage | status | seconds | run |", "|---|---|---:|---|"]
        lines += [f"| {row['stage']} | {row['status']} | {row['seconds'] or 0:.1f} | "
                  f"[{row['run_id'][:8]}](#/experiments/{row['experiment_id']}/runs/{row['run_id']}) |" for row in table]
        retry(c.log_text, run_id, "\n".join(lines) + "\n", "stage_runs.md")
        results_md = output_root(root) / "reports" / "results.md"
        if results_md.is_file():
            retry(c.log_artifact, run_id, str(results_md))
    finally:
        retry(c.set_terminated, run_id, status=status)  # never left RUNNING, even half-written
    return run_id


def flatten_numbers(node, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten_numbers(value, f"{prefix}{key}/" if prefix or key else ""))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        out[prefix.rstrip("/")] = float(node)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmrepro.pipeline_summary")
    parser.add_argument("--status", default="FINISHED", choices=["FINISHED", "FAILED"])
    args = parser.parse_args(argv)
    invocation = os.environ.get("LMREPRO_INVOCATION_ID")
    try:
        run_id = summarize_invocation(invocation, args.status) if invocation else None
    except Exception as err:  # noqa: BLE001 - tracking never fails the pipeline
        print(f"lmrepro: warning: the MLflow pipeline summary could not be written ({type(err).__name__}: {err}); "
              "every stage's own run is complete", file=sys.stderr)
        return 0
    print(f"pipeline summary run: {run_id}" if run_id else "no stage runs in this invocation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
