"""MLflow tracking: one experiment per track, one run per stage execution.

Why it looks like this:
- The embedded store is ``sqlite:///<repo>/mlflow.db`` (MLflow 3 refuses ./mlruns), with
  artifacts under ``<repo>/mlartifacts`` set when an experiment is created, so the UI
  finds them wherever it is started. ``MLFLOW_TRACKING_URI`` points at a shared server.
  A non-default profile keeps its own store and artifacts in runs/<profile>/
  (lmrepro.paths.output_root), so its experiments never mix with the default's.
- Parallel Snakemake jobs share one SQLite file: every call retries on "database is
  locked", metrics are buffered and sent in batches, experiments are created before jobs
  fork (``python -m lmrepro.tracking init`` in the Snakefile's onstart).
- Logging is idempotent under concurrency: two jobs that log the same input dataset race
  on MLflow's get-or-insert (UNIQUE(experiment, name, digest)); the loser's insert fails
  with an IntegrityError and is retried, and the retry finds the winner's row and links
  it. The same holds for an experiment created by two processes at once.
- Tracking never fails a stage: :class:`StageRun` retries, and when the store still
  refuses, logs a warning in the stage log and carries on (``degraded`` says so); the
  stage's outputs are what it is judged by.
- A stage that raises ends its run FAILED; a stage killed outright (SIGKILL, OOM) is
  found by its host and pid tags on the next start and marked KILLED, so no run stays
  RUNNING forever.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from lmrepro.paths import output_root, repo_root

T = TypeVar("T")

TRACKS = ("data", "rec", "mta", "prosg", "edge", "evaluate", "pipeline")
EXPERIMENT_PREFIX = "lmrepro"
SQLITE_TIMEOUT_S = 60

for _var, _value in (
    ("MLFLOW_DISABLE_TELEMETRY", "true"),
    ("DO_NOT_TRACK", "true"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("DVC_NO_ANALYTICS", "1"),
    ("GIT_PYTHON_REFRESH", "quiet"),
):
    os.environ.setdefault(_var, _value)


def tracking_uri(root: Path | None = None) -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{output_root(root) / 'mlflow.db'}?timeout={SQLITE_TIMEOUT_S}"


def is_remote(root: Path | None = None) -> bool:
    return tracking_uri(root).startswith(("http://", "https://", "databricks"))


def artifact_root(root: Path | None = None) -> Path:
    return output_root(root) / "mlartifacts"


def experiment_name(track: str) -> str:
    return f"{EXPERIMENT_PREFIX}-{track}"


_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "busy",
    "operationalerror",
    "connection refused",
    "connection reset",
    "temporarily unavailable",
    # a parallel job inserted the same row first (dataset, experiment): the retry's
    # get-or-insert finds it and links it instead
    "unique constraint failed",
    "integrityerror",
)


def _is_transient(err: BaseException) -> bool:
    text = f"{type(err).__name__}: {err}".lower()
    return any(s in text for s in _TRANSIENT)


def retry(fn: Callable[..., T], *args, attempts: int = 12, **kwargs) -> T:
    """Call ``fn``; on a lock or connection error back off (jittered) and try again."""
    delay = 0.2
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - filtered by _is_transient
            if attempt == attempts - 1 or not _is_transient(err):
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


@functools.lru_cache(maxsize=4)
def _client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def client(root: Path | None = None):
    return _client_for(tracking_uri(root))


def ensure_experiment(track: str, root: Path | None = None) -> str:
    """Experiment id for a track, created with an explicit artifact location if new."""
    from mlflow.exceptions import MlflowException

    c = client(root)
    name = experiment_name(track)
    found = retry(c.get_experiment_by_name, name)
    if found is not None:
        return found.experiment_id
    # A local store gets its artifacts beside it; a tracking server keeps its own
    # (proxied) artifact root, reachable from every machine that logs to it.
    location = None if is_remote(root) else (artifact_root(root) / track).as_uri()
    try:
        return retry(c.create_experiment, name, artifact_location=location, tags={"lmrepro.track": track})
    except MlflowException:
        found = retry(c.get_experiment_by_name, name)  # created by a parallel job meanwhile
        if found is None:
            raise
        return found.experiment_id


def git_state(root: Path | None = None) -> tuple[str, bool]:
    """(commit, dirty) of the repository, or ("unknown", True) outside git."""
    cwd = root or repo_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, check=True).stdout
        return commit, bool(status.strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True


def orchestrator() -> str:
    if os.environ.get("LMREPRO_ORCHESTRATOR"):
        return os.environ["LMREPRO_ORCHESTRATOR"]
    if os.environ.get("DVC_STAGE") or os.environ.get("DVC_ROOT"):
        return "dvc"
    return "cli"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_runs(root: Path | None = None) -> int:
    """Mark RUNNING runs of dead processes on this host as KILLED; returns how many."""
    c = client(root)
    host = socket.gethostname()
    experiments = [e.experiment_id for e in retry(c.search_experiments) if e.name.startswith(EXPERIMENT_PREFIX)]
    if not experiments:
        return 0
    runs = retry(c.search_runs, experiments, filter_string="attributes.status = 'RUNNING'", max_results=1000)
    reaped = 0
    for run in runs:
        tags = run.data.tags
        if tags.get("lmrepro.host") != host or not tags.get("lmrepro.pid", "").isdigit():
            continue
        if _pid_alive(int(tags["lmrepro.pid"])) and int(tags["lmrepro.pid"]) != os.getpid():
            continue
        retry(c.set_tag, run.info.run_id, "lmrepro.reaped", "process ended without closing its run")
        retry(c.set_terminated, run.info.run_id, status="KILLED")
        reaped += 1
    return reaped


_log = logging.getLogger("lmrepro.tracking")


def tolerant(method: Callable[..., T]) -> Callable[..., T | None]:
    """Run a StageRun method; if the store still fails after its retries, warn and go on.

    Why: a stage is judged by its outputs. A tracking store that is down, full or racing
    with another job must not turn a good result into a failed job (and a rerun of an
    hour of training); the warning in the stage log and the ``degraded`` flag say what
    was not recorded.
    """

    @functools.wraps(method)
    def wrapper(self: "StageRun", *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 - any store failure, after retry()
            self.degraded = True
            self.warnings.append(f"{method.__name__}: {type(err).__name__}: {err}")
            _log.warning(
                "MLflow tracking: %s failed (%s: %s); the stage goes on, this record is missing from run %s",
                method.__name__, type(err).__name__, str(err).splitlines()[0][:300] if str(err) else "", self.run_id,
            )
            return None

    return wrapper


class StageRun:
    """One MLflow run for one stage execution, with buffered metrics.

    Every public method is :func:`tolerant`: it retries transient store errors and never
    raises, so tracking cannot fail a stage.
    """

    def __init__(self, track: str, stage: str, run_name: str, root: Path | None = None) -> None:
        self.root = root or repo_root()
        self.track = track
        self.stage = stage
        self.run_name = run_name
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self._metrics: list = []
        self.degraded = False
        self.warnings: list[str] = []

    @tolerant
    def start(self, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        from mlflow.entities import Param

        c = client(self.root)
        self.experiment_id = ensure_experiment(self.track, self.root)
        run = retry(c.create_run, self.experiment_id, run_name=self.run_name, tags=dict(tags))
        self.run_id = run.info.run_id
        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):
            retry(c.log_batch, self.run_id, params=items[i : i + 100], synchronous=True)
        return self.run_id

    @tolerant
    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        if self.run_id is None:
            return
        retry(client(self.root).log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()], synchronous=True)

    @tolerant
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in metrics.items():
            safe = _metric_key(key)
            self._metrics.append(Metric(safe, float(value), now, 0 if step is None else int(step)))
        if len(self._metrics) >= 500:
            self.flush()

    @tolerant
    def flush(self) -> None:
        if not self._metrics or self.run_id is None:
            return
        c = client(self.root)
        pending, self._metrics = self._metrics, []
        for i in range(0, len(pending), 500):
            retry(c.log_batch, self.run_id, metrics=pending[i : i + 500], synchronous=True)

    @tolerant
    def log_input(self, path: Path, digest: str, context: str, name: str | None = None, profile: str | None = None) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        if self.run_id is None:
            return
        dataset = Dataset(
            name=name or path.name,
            digest=digest[:36],
            source_type="local",
            source=str(path.resolve()),
            profile=profile,
        )
        tags = [InputTag(key="mlflow.data.context", value=context)]
        retry(client(self.root).log_inputs, self.run_id, datasets=[DatasetInput(dataset=dataset, tags=tags)])

    @tolerant
    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if self.run_id is None:
            return
        retry(client(self.root).log_artifact, self.run_id, str(path), artifact_path)

    @tolerant
    def end(self, status: str) -> None:
        if self.run_id is None:
            return
        self.flush()
        if self.degraded:
            retry(client(self.root).set_tag, self.run_id, "lmrepro.tracking_warnings", "; ".join(self.warnings)[:4000])
        retry(client(self.root).set_terminated, self.run_id, status=status)


def _metric_key(key: str) -> str:
    """MLflow keys allow [A-Za-z0-9_-. /]; '@' (as in hr@10) becomes '_at_'."""
    out = key.replace("@", "_at_")
    return "".join(ch if ch.isalnum() or ch in "_-. /" else "_" for ch in out)


def init(root: Path | None = None) -> None:
    """Create the store and every track's experiment (before parallel jobs start)."""
    for track in TRACKS:
        ensure_experiment(track, root)
    reap_stale_runs(root)


def summarize_invocation(invocation_id: str, status: str = "FINISHED", root: Path | None = None) -> str | None:
    """One run in ``lmrepro-pipeline`` per `snakemake` call, linking its stage runs.

    Its params say what ran (stage run ids by stage), its metrics how it went (stages,
    failures, summed stage time) plus the collected results of reports/metrics.json.
    """
    import json as _json

    from mlflow.entities import Metric, Param

    root = root or repo_root()
    c = client(root)
    experiments = {e.experiment_id: e.name for e in retry(c.search_experiments) if e.name.startswith(EXPERIMENT_PREFIX)}
    runs = retry(c.search_runs, list(experiments), filter_string=f"tags.`lmrepro.invocation_id` = '{invocation_id}'", max_results=5000)
    runs = [r for r in runs if "lmrepro.stage" in r.data.tags]
    if not runs:
        return None
    commit, dirty = git_state(root)
    summary = retry(
        c.create_run,
        ensure_experiment("pipeline", root),
        run_name=f"pipeline[{invocation_id[:8]}]",
        tags={"lmrepro.invocation_id": invocation_id, "lmrepro.git_commit": commit, "lmrepro.git_dirty": str(dirty).lower(),
              "lmrepro.orchestrator": orchestrator(), "mlflow.source.git.commit": commit},
    )
    run_id = summary.info.run_id
    table = sorted(
        ({"stage": r.info.run_name, "run_id": r.info.run_id, "experiment": experiments[r.info.experiment_id],
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
        flat = _flatten_numbers(_json.loads(collected.read_text()))
        metrics += [Metric(_metric_key(k)[:250], v, now, 0) for k, v in sorted(flat.items())]
    params = [Param(_metric_key(f"run.{row['stage']}")[:250], row["run_id"]) for row in table]
    for i in range(0, len(metrics), 500):
        retry(c.log_batch, run_id, metrics=metrics[i : i + 500], synchronous=True)
    for i in range(0, len(params), 100):
        retry(c.log_batch, run_id, params=params[i : i + 100], synchronous=True)
    retry(c.log_dict, run_id, {"stage_runs": table}, "stage_runs.json")
    lines = ["| stage | status | seconds | run |", "|---|---|---:|---|"]
    lines += [f"| {row['stage']} | {row['status']} | {row['seconds'] or 0:.1f} | [{row['run_id'][:8]}](#/experiments/{row['experiment_id']}/runs/{row['run_id']}) |" for row in table]
    retry(c.log_text, run_id, "\n".join(lines) + "\n", "stage_runs.md")
    results_md = output_root(root) / "reports" / "results.md"
    if results_md.is_file():
        retry(c.log_artifact, run_id, str(results_md))
    retry(c.set_terminated, run_id, status=status)
    return run_id


def _flatten_numbers(node, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(_flatten_numbers(value, f"{prefix}{key}/" if prefix or key else ""))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        out[prefix.rstrip("/")] = float(node)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmrepro.tracking")
    parser.add_argument("action", choices=["init", "uri", "reap", "summary"])
    parser.add_argument("--status", default="FINISHED", choices=["FINISHED", "FAILED"])
    args = parser.parse_args(argv)
    if args.action == "init":
        init()
        print(f"MLflow store ready: {tracking_uri()}")
    elif args.action == "summary":
        invocation = os.environ.get("LMREPRO_INVOCATION_ID")
        run_id = summarize_invocation(invocation, args.status) if invocation else None
        print(f"pipeline summary run: {run_id}" if run_id else "no stage runs in this invocation")
    elif args.action == "uri":
        print(tracking_uri())
    else:
        print(f"marked {reap_stale_runs()} stale run(s) KILLED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
