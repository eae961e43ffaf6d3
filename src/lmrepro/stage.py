"""The stage harness: what every ``python -m lmrepro.stages.<stage>`` shares.

A stage module declares its arguments and a ``main(ctx)``; the harness does the rest the
same way for Snakemake and DVC:

- params arrive either as ``--cfg JSON`` (Snakemake passes exactly the sections its rule
  declares, so a changed knob reruns exactly that rule) or as ``--keys k1 k2`` read from
  ``--params params.yaml`` (DVC); both are validated against the params schema;
- seeds and thread counts come from the ``runtime`` section and are applied first;
- ``--log FILE`` sends all output (logging, progress bars, warnings) to the rule's log;
- one MLflow run per execution, named by the stage alone (wildcards are params and tags),
  a child of its invocation's parent run, tagged with stage, git state, params hash,
  orchestrator, source and user; its params are the runtime section, the wildcards and
  the sections the stage read (not every section its rule passed); it ends FAILED or
  KILLED when the stage does;
- outputs written through :mod:`lmrepro.io` are rolled back if the stage fails, so a
  failed stage leaves no partial new outputs, and whatever outputs existed when it started
  are put back; a writer killed outright is rolled back at the next stage start (its
  backups restored, its temporary files removed). Snakemake itself deletes a job's
  outputs before starting it, so under Snakemake "what existed" is nothing: the previous
  versions live on only in DVC's cache (``dvc checkout``) and git (reports/);
- a :class:`LmreproError` prints its message and exits 2; a bug exits 1 with a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from lmrepro import config as cfgmod
from lmrepro import io
from lmrepro.errors import EXIT_USER_ERROR, LmreproError
from lmrepro.paths import repo_root
from lmrepro.runtime import autocast, configure_logging, get_logger, progress, resolve_device, seed_everything, set_threads

RUNTIME_KEY = "runtime"


def _exit_process(code: int) -> None:
    """End the process as sys.exit(code) would, minus the interpreter's teardown.

    Why: unloading torch, MLflow, pandas and scikit-learn module by module took about 2 s
    of CPU at the end of every stage process, and a pipeline run starts ~70 of them. Exit
    handlers still run (they flush logging and close MLflow's store), and by now every
    output is closed and renamed into place (io.OutputJournal) and the MLflow run is ended.
    Only for a stage's own process: in-process callers (tests) get SystemExit as before.
    """
    atexit._run_exitfuncs()  # what sys.exit runs first; os._exit skips only the teardown after it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class StageInterrupted(BaseException):
    """SIGTERM/SIGINT arrived (Snakemake or DVC cancelled the job)."""


def _on_signal(signum, frame):  # noqa: ARG001
    raise StageInterrupted(f"received signal {signum}")


def subschema(schema: Mapping, dotted: str) -> Mapping | None:
    node: Mapping | None = schema
    for part in dotted.split("."):
        props = (node or {}).get("properties", {})
        extra = (node or {}).get("additionalProperties")
        if part in props:
            node = props[part]
        elif isinstance(extra, Mapping):  # a named entry of a mapping (data.rec.sources.<name>)
            node = extra
        else:
            return None
    return node


def validate_sections(params: Mapping[str, Any], root: Path, source: str) -> None:
    """Validate each {dotted key: value} against its part of the params schema."""
    import jsonschema

    schema = cfgmod.params_schema(root)
    problems = []
    for key, value in params.items():
        sub = subschema(schema, key)
        if sub is None:
            problems.append(f"  {key}: unknown key (not in workflow/schemas/params)")
            continue
        for err in jsonschema.Draft202012Validator(sub).iter_errors(value):
            where = ".".join([key, *map(str, err.absolute_path)])
            problems.append(f"  {where}: {err.message}")
        problems += [f"  {where}: {bad!r} is not a finite number" for where, bad in cfgmod.non_finite_numbers(value, key)]
    if problems:
        raise LmreproError(f"{source}: invalid parameters:\n" + "\n".join(problems))


def params_tree(params: Mapping[str, Any]) -> dict:
    """{"a.b": {...}} -> {"a": {"b": {...}}} (for flattening into MLflow params)."""
    tree: dict = {}
    for dotted, value in params.items():
        node = tree
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def _digest(path: Path) -> str:
    if not path.exists():
        raise LmreproError(f"{path}: input not found")
    if path.is_dir():
        import hashlib

        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(io.sha256_file(f).encode())
        return h.hexdigest()
    return io.sha256_file(path)


def _final_paths(written: list[Path], root: Path) -> list[str]:
    """The outputs as they are now: a file written inside a folder that was then renamed
    into place (an atomic folder) is covered by that folder, its temporary path is gone."""
    out = []
    for p in written:
        if not p.exists():
            continue
        try:
            out.append(str(p.resolve().relative_to(root.resolve())))
        except ValueError:
            out.append(str(p))
    return out


class StageContext:
    """What a stage's main() gets: parsed args, its params, tracking and logging."""

    def __init__(self, stage: "Stage", args: argparse.Namespace, params: dict, run) -> None:
        self.stage = stage
        self.args = args
        self.params = params
        self._run = run
        self.log = get_logger(f"lmrepro.{stage.name}")
        runtime = params.get(RUNTIME_KEY, {})
        self.seed: int = int(runtime.get("seed", 0))
        self.threads: int = int(runtime.get("threads", 1))
        self.device = resolve_device(runtime.get("device", "cpu"))
        self.amp: bool = bool(runtime.get("amp", False)) and self.device.type == "cuda"
        self.root = repo_root()
        # what this stage really read: its MLflow params (a rule may pass a whole section,
        # e.g. rec.model with every model's geometry, of which one run reads one)
        self.read: dict[str, Any] = {}

    def section(self, dotted: str) -> Any:
        """The value at a dotted key, from the keys this stage was given (or below one)."""
        if dotted in self.params:
            self.read[dotted] = self.params[dotted]
            return self.params[dotted]
        for key, value in self.params.items():
            if dotted.startswith(key + "."):
                found = cfgmod.get_key(value, dotted[len(key) + 1 :])
                self.read[dotted] = found
                return found
        raise LmreproError(
            f"stage {self.stage.name} reads params key {dotted!r} but was given only "
            f"{', '.join(self.params)}: add it to the rule's cfg(...) and regenerate dvc.yaml"
        )

    def config(self, cls: type, dotted: str):
        return cfgmod.from_dict(cls, self.section(dotted), where=dotted)

    @property
    def run_id(self) -> str | None:
        return self._run.run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._run.log_metrics(metrics, step)

    def log_input(self, path: str | os.PathLike, context: str = "training", name: str | None = None) -> str:
        path = Path(path)
        digest = _digest(path)
        self._run.log_input(path, digest, context, name=name)
        return digest

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._run.log_artifact(Path(path), artifact_path)

    def log_model(self, model_dir: str | os.PathLike, name: str, model_type: str,
                  params: Mapping[str, Any] | None = None) -> None:
        """Register a saved model folder (safetensors + config) as this run's LoggedModel."""
        self._run.log_model(Path(model_dir), name, model_type, params)

    def log_final(self, metrics: Mapping[str, float]) -> None:
        """The reported values, once, under ``final/<key>``: never the key of a per-epoch
        series, whose latest point (what the UI shows) is a subset value of the last epoch."""
        self._run.log_metrics({f"final/{k}": v for k, v in metrics.items()}, 0)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._run.set_tags(tags)

    def autocast(self):
        """Mixed precision where safe (bf16 on CUDA with runtime.amp); no-op on CPU."""
        return autocast(self.device, self.amp)

    def progress(self, iterable, desc: str = "", total: int | None = None, **kwargs):
        return progress(iterable, desc=desc or self.stage.name, total=total, **kwargs)


class Stage:
    def __init__(self, track: str, name: str, wildcards: tuple[str, ...] = ()) -> None:
        self.track = track
        self.name = name
        self.wildcards = tuple(wildcards)
        self.parser = argparse.ArgumentParser(prog=f"python -m lmrepro.stages.{name}", description=f"lmrepro stage {name} ({track})")
        source = self.parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--cfg", help="JSON of the params sections this stage reads (Snakemake)")
        source.add_argument("--keys", nargs="+", help="dotted params keys to read from --params (DVC)")
        self.parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="with --keys: the params file")
        self.parser.add_argument("--log", type=Path, default=None, help="send all output to this file")
        self._main: Callable[[StageContext], None] | None = None

    def add_argument(self, *args, **kwargs) -> None:
        self.parser.add_argument(*args, **kwargs)

    def main(self, fn: Callable[[StageContext], None]) -> Callable[[StageContext], None]:
        self._main = fn
        return fn

    # -- the run -------------------------------------------------------------------------
    def _load_params(self, args: argparse.Namespace, root: Path) -> dict[str, Any]:
        """{dotted key: value} for the keys this execution may read."""
        if args.cfg is not None:
            try:
                params = json.loads(args.cfg)
            except json.JSONDecodeError as err:
                raise LmreproError(f"--cfg: not valid JSON ({err})") from err
            if not isinstance(params, dict):
                raise LmreproError("--cfg: expected a JSON object of {dotted key: value}")
            validate_sections(params, root, source="--cfg")
            return params
        full = cfgmod.load_params(args.params)
        cfgmod.validate_params(full, root, source=str(args.params))
        keys = list(dict.fromkeys([*args.keys, RUNTIME_KEY]))
        return {k: cfgmod.get_key(full, k) for k in keys}

    def run(self, argv: list[str] | None = None) -> None:
        """Parse, run and exit; never returns."""
        args = self.parser.parse_args(argv)
        user_stderr = os.dup(2)
        if args.log is not None:
            args.log.parent.mkdir(parents=True, exist_ok=True)
            log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.close(log_fd)
        configure_logging()
        log = get_logger(f"lmrepro.{self.name}")
        signal.signal(signal.SIGTERM, _on_signal)
        code = self._run(args, log)
        sys.stdout.flush()
        sys.stderr.flush()
        if code != 0 and args.log is not None:
            os.write(user_stderr, f"lmrepro: stage {self.name} failed, see {args.log}\n".encode())
        if argv is None:  # this process is the stage (python -m lmrepro.stages.X)
            _exit_process(code)
        sys.exit(code)

    def _run(self, args: argparse.Namespace, log: logging.Logger) -> int:
        from lmrepro import tracking

        root = repo_root()
        started = time.time()
        run = None
        ctx = None
        status = "FAILED"
        try:
            params = self._load_params(args, root)
            keys = list(params)
            runtime = params.get(RUNTIME_KEY, {})
            set_threads(int(runtime.get("threads", 1)))
            seed_everything(int(runtime.get("seed", 0)))
            wildcards = {w: str(getattr(args, w)) for w in self.wildcards}
            # the stage name alone: the UI cuts long names, and wildcards are params and tags
            run_name = self.name
            label = self.name + ("[" + ",".join(f"{k}={v}" for k, v in wildcards.items()) + "]" if wildcards else "")
            log.info("stage %s: params keys %s", label, ", ".join(keys))
            try:
                tracking.reap_stale_runs(root)
            except Exception as err:  # noqa: BLE001 - housekeeping; never fails the stage
                log.warning("MLflow tracking: could not reap stale runs (%s: %s)", type(err).__name__, err)
            for leftover in io.clean_stale_files(root):
                log.info("rolled back %s (left by a killed writer)", leftover.relative_to(root))
            commit, dirty = tracking.git_state(root)
            run = tracking.StageRun(self.track, self.name, run_name, root)
            tags = {
                "lmrepro.stage": self.name,
                "lmrepro.track": self.track,
                "lmrepro.wildcards": json.dumps(wildcards, sort_keys=True),
                "lmrepro.git_commit": commit,
                "lmrepro.git_dirty": str(dirty).lower(),
                "lmrepro.params_hash": cfgmod.params_hash(params),
                "lmrepro.orchestrator": tracking.orchestrator(),
                "lmrepro.invocation_id": os.environ.get("LMREPRO_INVOCATION_ID", "none"),
                "lmrepro.host": socket.gethostname(),
                "lmrepro.pid": str(os.getpid()),
                "mlflow.source.git.commit": commit,
                "mlflow.source.name": f"src/lmrepro/stages/{self.name}.py",
                "mlflow.source.type": "JOB",
                "mlflow.user": tracking.user(),
                **{f"wildcard.{k}": v for k, v in wildcards.items()},
            }
            # the runtime section and the wildcards now; the sections the stage reads at its end
            own = {**wildcards,
                   **cfgmod.flatten(params_tree({k: v for k, v in params.items() if k == RUNTIME_KEY}))}
            run.start(own, tags, invocation=tracking.invocation_id())
            ctx = StageContext(self, args, params, run)
            run.set_tags({"lmrepro.device": str(ctx.device), "lmrepro.amp": str(ctx.amp).lower()})
            with io.OutputJournal() as journal:
                assert self._main is not None, f"stage {self.name} has no main()"
                self._main(ctx)
            run.log_metrics({"stage_seconds": time.time() - started})
            run.set_tags({"lmrepro.outputs": json.dumps(_final_paths(journal.written, root))})
            status = "FINISHED"
            log.info("stage %s finished in %.1f s", label, time.time() - started)
            return 0
        except LmreproError as err:
            log.error("%s", err)
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        except (StageInterrupted, KeyboardInterrupt) as err:
            status = "KILLED"
            log.error("stage %s interrupted: %s", self.name, err)
            return 130
        except Exception:  # noqa: BLE001 - a bug: keep the traceback
            log.error("stage %s crashed:\n%s", self.name, traceback.format_exc())
            return 1
        finally:
            if run is not None and run.run_id is not None:
                try:
                    if ctx is not None:
                        run.log_params(cfgmod.flatten(params_tree(ctx.read)))
                    if args.log is not None and args.log.is_file() and args.log.stat().st_size < 5_000_000:
                        sys.stderr.flush()
                        run.log_artifact(args.log, "logs")
                    run.end(status)
                except Exception:  # noqa: BLE001 - tracking trouble must not mask the stage result
                    log.error("could not close MLflow run:\n%s", traceback.format_exc())
