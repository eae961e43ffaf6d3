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
- The runs of one ``snakemake`` (or ``dvc repro``) call are native children of one parent
  run per experiment (tag ``mlflow.parentRunId``), so the UI nests them. Parallel jobs find
  or create that parent under a file lock (one host) and converge on the earliest one
  (several hosts); the last child to end sets the parent's status from its children.
- Experiments carry ``mlflow.experimentKind = custom_model_development``: MLflow 3's UI
  otherwise opens them in its GenAI view, which hides runs, charts and models.
- Tracking never fails a stage: :class:`StageRun` retries, and when the store still
  refuses, logs a warning in the stage log and carries on (``degraded`` says so); the
  stage's outputs are what it is judged by.
- A stage that raises ends its run FAILED; a stage killed outright (SIGKILL, OOM) is
  found by its host and pid tags on the next start and marked KILLED, so no run stays
  RUNNING forever.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import logging
import os
import random
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from lmrepro.paths import output_root, repo_root
from lmrepro.procs import pid_alive
from lmrepro.tracks import EXPERIMENTS

T = TypeVar("T")

TRACKS = EXPERIMENTS  # one experiment each (lmrepro.tracks: the track list exists once)
EXPERIMENT_PREFIX = "lmrepro"
SQLITE_TIMEOUT_S = 60
# mlflow.experimentKind values of the MLflow 3 UI (server/js: ExperimentKind): this one
# opens the classic runs table / charts / models view instead of the GenAI traces view.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
PARENT_TAG = "lmrepro.parent"

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
        if found.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:  # a store made before the tag
            retry(c.set_experiment_tag, found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return found.experiment_id
    # A local store gets its artifacts beside it; a tracking server keeps its own
    # (proxied) artifact root, reachable from every machine that logs to it.
    location = None if is_remote(root) else (artifact_root(root) / track).as_uri()
    tags = {"lmrepro.track": track, EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    try:
        return retry(c.create_experiment, name, artifact_location=location, tags=tags)
    except MlflowException:
        found = retry(c.get_experiment_by_name, name)  # created by a parallel job meanwhile
        if found is None:
            raise
        return found.experiment_id


def user() -> str:
    """Who ran it (the UI's "Created by"): $LMREPRO_USER, else the login name."""
    if os.environ.get("LMREPRO_USER"):
        return os.environ["LMREPRO_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _proc_cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _proc_parent_and_start(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[19]  # ppid, starttime (clock ticks since boot)


def _dvc_ancestor() -> str | None:
    """``dvc-<host>-<pid>-<start>`` of the ``dvc`` process this stage runs under, if any.

    Why: ``dvc repro`` sets no invocation id of its own; its process (pid and start time,
    unique on this host) is what the stages of one call share.
    """
    pid = os.getpid()
    for _ in range(12):
        found = _proc_parent_and_start(pid)
        if found is None or found[0] <= 1:
            return None
        pid = found[0]
        cmd = _proc_cmdline(pid)
        words = [Path(w).name for w in cmd[:3]]
        if "dvc" in words or (len(cmd) > 2 and cmd[1] == "-m" and cmd[2] == "dvc"):
            parent = _proc_parent_and_start(pid)
            return f"dvc-{socket.gethostname()}-{pid}-{parent[1] if parent else 0}"
    return None


def invocation_id() -> str | None:
    """The id shared by the stage runs of one orchestrator call (None: a lone stage)."""
    env = os.environ.get("LMREPRO_INVOCATION_ID")
    if env:
        return env
    if orchestrator() == "dvc":
        return _dvc_ancestor()
    return None


@contextlib.contextmanager
def _host_lock(uri: str):
    """An exclusive lock per tracking store, shared by the processes of this host."""
    import fcntl

    name = hashlib.sha256(uri.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"lmrepro-mlflow-{name}.lock"
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _parents(c, experiment_id: str, invocation: str) -> list:
    runs = retry(c.search_runs, [experiment_id], max_results=50,
                 filter_string=f"tags.`lmrepro.invocation_id` = '{invocation}' and tags.`{PARENT_TAG}` = 'true'")
    return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))


def parent_run(experiment_id: str, invocation: str, root: Path | None = None) -> str:
    """Id of the parent run of ``invocation`` in this experiment, created by the first job.

    Race-free on one host (a file lock around find-or-create); across hosts every job
    settles on the earliest parent and a job that created a later one deletes it.
    """
    c = client(root)
    with _host_lock(tracking_uri(root)):
        found = _parents(c, experiment_id, invocation)
        if found:
            return found[0].info.run_id
        commit, dirty = git_state(root)
        orch = orchestrator()
        tags = {
            PARENT_TAG: "true",
            "lmrepro.invocation_id": invocation,
            "lmrepro.orchestrator": orch,
            "lmrepro.git_commit": commit,
            "lmrepro.git_dirty": str(dirty).lower(),
            "lmrepro.params_hash": os.environ.get("LMREPRO_PARAMS_HASH", ""),
            "mlflow.source.git.commit": commit,
            "mlflow.source.name": orch,
            "mlflow.source.type": "JOB",
            "mlflow.user": user(),
        }
        mine = retry(c.create_run, experiment_id, run_name=f"{orch}-{invocation[:8]}", tags=tags).info.run_id
    found = _parents(c, experiment_id, invocation)
    winner = found[0].info.run_id if found else mine
    if winner != mine:
        retry(c.delete_run, mine)
    return winner


def settle_parent(parent_id: str, root: Path | None = None, status: str | None = None) -> None:
    """End a parent run when none of its children runs: FAILED if one failed or was killed.

    ``status`` forces the outcome (the orchestrator's own verdict at its end).
    """
    c = client(root)
    parent = retry(c.get_run, parent_id)
    children = retry(c.search_runs, [parent.info.experiment_id], max_results=5000,
                     filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")
    states = {r.info.status for r in children}
    if status is None:
        if "RUNNING" in states or not states:
            return
        status = "FAILED" if states & {"FAILED", "KILLED"} else "FINISHED"
    retry(c.set_terminated, parent_id, status=status)


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
        if pid_alive(int(tags["lmrepro.pid"])) and int(tags["lmrepro.pid"]) != os.getpid():
            continue
        retry(c.set_tag, run.info.run_id, "lmrepro.reaped", "process ended without closing its run")
        retry(c.set_terminated, run.info.run_id, status="KILLED")
        reaped += 1
        if tags.get("mlflow.parentRunId"):
            settle_parent(tags["mlflow.parentRunId"], root)
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
        self.parent_id: str | None = None
        self._metrics: list = []
        self._params: dict[str, str] = {}
        self.degraded = False
        self.warnings: list[str] = []

    @tolerant
    def start(self, params: Mapping[str, Any], tags: Mapping[str, str], invocation: str | None = None) -> str:
        """Create the run (a child of the invocation's parent run when there is one)."""
        c = client(self.root)
        self.experiment_id = ensure_experiment(self.track, self.root)
        tags = dict(tags)
        if invocation:
            self.parent_id = parent_run(self.experiment_id, invocation, self.root)
            tags["mlflow.parentRunId"] = self.parent_id
            if retry(c.get_run, self.parent_id).info.status != "RUNNING":  # ended by an earlier stage
                retry(c.update_run, self.parent_id, status="RUNNING")
        run = retry(c.create_run, self.experiment_id, run_name=self.run_name, tags=tags)
        self.run_id = run.info.run_id
        self.log_params(params)
        return self.run_id

    @tolerant
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params not logged yet (MLflow params are write-once; a repeat is skipped)."""
        from mlflow.entities import Param

        if self.run_id is None:
            return
        new = {k: str(v)[:6000] for k, v in params.items() if k not in self._params}
        items = [Param(k, v) for k, v in sorted(new.items())]
        for i in range(0, len(items), 100):
            retry(client(self.root).log_batch, self.run_id, params=items[i : i + 100], synchronous=True)
        self._params.update(new)

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
    def log_model(self, model_dir: Path, name: str, model_type: str, params: Mapping[str, Any] | None = None) -> str | None:
        """Register the files of ``model_dir`` (safetensors + config) as a LoggedModel of
        this run: the UI lists it under the run's and the experiment's Models, with the
        files as its artifacts. No flavor: the weights are read back by this package."""
        from mlflow.entities import LoggedModelOutput

        if self.run_id is None or self.experiment_id is None:
            return None
        c = client(self.root)
        model = retry(c.create_logged_model, self.experiment_id, name=name, source_run_id=self.run_id,
                      params={k: str(v)[:6000] for k, v in (params or {}).items()}, model_type=model_type,
                      tags={"lmrepro.stage": self.stage, "lmrepro.path": str(model_dir)})
        try:
            retry(c.log_model_artifacts, model.model_id, str(model_dir))
            retry(c.log_outputs, self.run_id, [LoggedModelOutput(model_id=model.model_id, step=0)])
        except Exception:
            retry(c.finalize_logged_model, model.model_id, "FAILED")
            raise
        retry(c.finalize_logged_model, model.model_id, "READY")
        return model.model_id

    @tolerant
    def end(self, status: str) -> None:
        if self.run_id is None:
            return
        self.flush()
        if self.degraded:
            retry(client(self.root).set_tag, self.run_id, "lmrepro.tracking_warnings", "; ".join(self.warnings)[:4000])
        retry(client(self.root).set_terminated, self.run_id, status=status)
        if self.parent_id is not None:
            settle_parent(self.parent_id, self.root)


def _metric_key(key: str) -> str:
    """MLflow keys allow [A-Za-z0-9_-. /]; '@' (as in hr@10) becomes '_at_'."""
    out = key.replace("@", "_at_")
    return "".join(ch if ch.isalnum() or ch in "_-. /" else "_" for ch in out)


def init(root: Path | None = None) -> None:
    """Create the store and every track's experiment (before parallel jobs start)."""
    for track in TRACKS:
        ensure_experiment(track, root)
    reap_stale_runs(root)


def run_label(tags: Mapping[str, str]) -> str:
    """stage[wildcard=value,...]: unique within an invocation, unlike the short run name."""
    import json as _json

    wildcards = _json.loads(tags.get("lmrepro.wildcards", "{}"))
    inner = ",".join(f"{k}={v}" for k, v in wildcards.items())
    return tags["lmrepro.stage"] + (f"[{inner}]" if inner else "")


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
