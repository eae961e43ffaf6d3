"""MLflow tracking: one experiment per track, one run per stage execution.

Why it looks like this:
- The embedded store is ``sqlite:///<repo>/mlflow.db`` (MLflow 3 refuses ./mlruns), with
  artifacts under ``<repo>/mlartifacts`` set when an experiment is created, so the UI
  finds them wherever it is started. ``MLFLOW_TRACKING_URI`` points at a shared server.
- Parallel Snakemake jobs share one SQLite file: every call retries on "database is
  locked", metrics are buffered and sent in batches, experiments are created before jobs
  fork (``python -m lmrepro.tracking init`` in the Snakefile's onstart).
- A stage that raises ends its run FAILED; a stage killed outright (SIGKILL, OOM) is
  found by its host and pid tags on the next start and marked KILLED, so no run stays
  RUNNING forever.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from lmrepro.paths import repo_root

T = TypeVar("T")

TRACKS = ("data", "rec", "mta", "prosg", "edge", "evaluate")
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
    return f"sqlite:///{(root or repo_root()) / 'mlflow.db'}?timeout={SQLITE_TIMEOUT_S}"


def artifact_root(root: Path | None = None) -> Path:
    return (root or repo_root()) / "mlartifacts"


def experiment_name(track: str) -> str:
    return f"{EXPERIMENT_PREFIX}-{track}"


def _is_transient(err: BaseException) -> bool:
    text = f"{type(err).__name__}: {err}".lower()
    return any(s in text for s in ("database is locked", "database table is locked", "busy", "operationalerror", "connection refused", "temporarily unavailable"))


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
    location = artifact_root(root) / track
    try:
        return retry(c.create_experiment, name, artifact_location=location.as_uri(), tags={"lmrepro.track": track})
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


class StageRun:
    """One MLflow run for one stage execution, with buffered metrics."""

    def __init__(self, track: str, stage: str, run_name: str, root: Path | None = None) -> None:
        self.root = root or repo_root()
        self.track = track
        self.stage = stage
        self.run_name = run_name
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self._metrics: list = []
        self._step_counter = 0

    def start(self, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        from mlflow.entities import Param, RunTag

        c = client(self.root)
        self.experiment_id = ensure_experiment(self.track, self.root)
        run = retry(c.create_run, self.experiment_id, run_name=self.run_name, tags=dict(tags))
        self.run_id = run.info.run_id
        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):
            retry(c.log_batch, self.run_id, params=items[i : i + 100], synchronous=True)
        del RunTag
        return self.run_id

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        retry(client(self.root).log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()], synchronous=True)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in metrics.items():
            safe = _metric_key(key)
            self._metrics.append(Metric(safe, float(value), now, 0 if step is None else int(step)))
        if len(self._metrics) >= 500:
            self.flush()

    def flush(self) -> None:
        if not self._metrics or self.run_id is None:
            return
        c = client(self.root)
        pending, self._metrics = self._metrics, []
        for i in range(0, len(pending), 500):
            retry(c.log_batch, self.run_id, metrics=pending[i : i + 500], synchronous=True)

    def log_input(self, path: Path, digest: str, context: str, name: str | None = None, profile: str | None = None) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(
            name=name or path.name,
            digest=digest[:36],
            source_type="local",
            source=str(path.resolve()),
            profile=profile,
        )
        tags = [InputTag(key="mlflow.data.context", value=context)]
        retry(client(self.root).log_inputs, self.run_id, datasets=[DatasetInput(dataset=dataset, tags=tags)])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        retry(client(self.root).log_artifact, self.run_id, str(path), artifact_path)

    def end(self, status: str) -> None:
        if self.run_id is None:
            return
        try:
            self.flush()
        finally:
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


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmrepro.tracking")
    parser.add_argument("action", choices=["init", "uri", "reap"])
    args = parser.parse_args(argv)
    if args.action == "init":
        init()
        print(f"MLflow store ready: {tracking_uri()}")
    elif args.action == "uri":
        print(tracking_uri())
    else:
        print(f"marked {reap_stale_runs()} stale run(s) KILLED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
