"""MLflow tracking under parallel jobs sharing one SQLite store."""

import multiprocessing as mp
import os

from lmrepro import tracking
from tests.faults import first_line, lost_summary


def _job(root: str, index: int, queue) -> None:
    os.environ["LMREPRO_ROOT"] = root
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    run = tracking.StageRun("data", f"job{index}", f"job{index}")
    run.start({"index": index}, {"lmrepro.stage": f"job{index}"})
    for step in range(300):
        run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 300}, step=step)
    run.end("FINISHED")
    queue.put(run.run_id)


def test_parallel_jobs_lose_no_run_and_no_metric(tmp_root, record_fault):
    tracking.init(tmp_root)  # as the Snakefile's onstart does, before jobs fork
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_job, args=(str(tmp_root), i, queue)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    run_ids = {queue.get(timeout=5) for _ in procs}
    client = tracking.client(tmp_root)
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert len(client.get_metric_history(run_id, "loss")) == 300
    logged = sum(len(client.get_metric_history(run_id, "loss")) for run_id in run_ids)
    record_fault("parallel jobs writing one SQLite tracking store", f"{len(procs)} processes log 300 steps each at once",
                 f"all {len(procs)} jobs exited {sorted({p.exitcode for p in procs})}; runs FINISHED",
                 lost_summary(lost=[f"{len(procs) * 300 - logged} metric points"] if logged != len(procs) * 300 else [],
                              checked=f"{logged} of {len(procs) * 300} loss points read back"))


def test_experiment_per_track_with_explicit_artifact_location(tmp_root):
    tracking.init(tmp_root)
    client = tracking.client(tmp_root)
    for track in tracking.TRACKS:
        exp = client.get_experiment_by_name(tracking.experiment_name(track))
        assert exp.artifact_location == (tmp_root / "mlartifacts" / track).as_uri()


def test_tracking_uri_override(monkeypatch, tmp_root):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.tracking_uri() == "http://127.0.0.1:5999"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking.tracking_uri().startswith(f"sqlite:///{tmp_root}/mlflow.db")


def test_metric_keys_are_made_mlflow_safe():
    assert tracking._metric_key("hr@10") == "hr_at_10"
    assert tracking._metric_key("ndcg@5 (test)") == "ndcg_at_5 _test_"


def test_metrics_are_sent_in_batches(tmp_root, monkeypatch):
    """1,000 metric points cost a handful of log_batch calls, never one call each."""
    from mlflow.tracking import MlflowClient

    calls = {"log_batch": 0, "log_metric": 0}
    real_batch = MlflowClient.log_batch

    def counting_batch(self, *args, **kwargs):
        calls["log_batch"] += 1
        return real_batch(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", counting_batch)
    monkeypatch.setattr(MlflowClient, "log_metric", lambda *a, **k: calls.__setitem__("log_metric", calls["log_metric"] + 1))
    run = tracking.StageRun("data", "batching", "batching", tmp_root)
    run.start({"a": 1}, {})
    for step in range(500):
        run.log_metrics({"loss": 1.0, "acc": 0.5}, step=step)
    run.end("FINISHED")
    assert calls["log_metric"] == 0
    assert calls["log_batch"] <= 4  # params + 2 metric batches (+ margin)
    assert len(tracking.client(tmp_root).get_metric_history(run.run_id, "acc")) == 500


# -- concurrency: the race that crashed `make reproduce` ----------------------------------
STRESS_PROCESSES = 8
STRESS_ROUNDS = 20


def _stress_job(root: str, index: int, barrier, queue) -> None:
    """One 'stage' per round; all processes log the same dataset, params and metrics at once."""
    os.environ["LMREPRO_ROOT"] = root
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from pathlib import Path

    results = []
    for rnd in range(STRESS_ROUNDS):
        run = tracking.StageRun("rec", "stress", f"stress{index}-{rnd}")
        barrier.wait(timeout=120)
        run.start({"rec.model": "lightlm", "round": rnd}, {"lmrepro.stage": "stress"})
        # the same input in every process of this round: one dataset row, 8 links
        run.log_input(Path(root) / "shared.parquet", f"digest-round-{rnd:02d}", "training", name="shared.parquet")
        run.log_metrics({"final/hr_at_10": 0.5, "loss": 1.0}, step=0)
        run.set_tags({"lmrepro.outputs": "[]"})
        run.end("FINISHED")
        results.append((run.run_id, run.degraded, list(run.warnings)))
    queue.put(results)


def test_concurrent_jobs_logging_the_same_records_all_finish(tmp_root, record_fault):
    """8 processes x 20 rounds log the same dataset/params/metrics to one sqlite store at
    once (a barrier starts each round together); every run ends FINISHED with every record
    and no tracking warning."""
    tracking.init(tmp_root)
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(STRESS_PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_stress_job, args=(str(tmp_root), i, barrier, queue)) for i in range(STRESS_PROCESSES)]
    for p in procs:
        p.start()
    results = [item for _ in procs for item in queue.get(timeout=900)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(results) == STRESS_PROCESSES * STRESS_ROUNDS
    assert [w for _, degraded, w in results if degraded] == []
    client = tracking.client(tmp_root)
    for run_id, _, _ in results:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["rec.model"] == "lightlm"
        assert run.data.metrics == {"final/hr_at_10": 0.5, "loss": 1.0}
        assert [d.dataset.digest for d in run.inputs.dataset_inputs] == [f"digest-round-{int(run.data.params['round']):02d}"]
    statuses = [client.get_run(run_id).info.status for run_id, _, _ in results]
    record_fault("UNIQUE-constraint race in the tracking store",
                 f"{STRESS_PROCESSES} processes x {STRESS_ROUNDS} rounds log the same dataset, params and metrics to one "
                 "SQLite store, each round started together by a barrier",
                 f"{statuses.count('FINISHED')}/{len(results)} runs FINISHED, "
                 f"{sum(len(w) for _, _, w in results)} tracking warnings",
                 lost_summary(lost=[f"{len(statuses) - statuses.count('FINISHED')} runs"] if set(statuses) != {"FINISHED"} else [],
                              checked="every run's params, metrics and dataset link read back"))


class _BrokenClient:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RuntimeError("disk I/O error (simulated)")

        return fail


def test_a_failing_store_warns_and_never_raises(tmp_root, monkeypatch, caplog, record_fault):
    """Tracking cannot fail a stage: every call warns, none raises, the run is marked degraded."""
    monkeypatch.setattr(tracking, "client", lambda root=None: _BrokenClient())
    run = tracking.StageRun("data", "broken", "broken", tmp_root)
    with caplog.at_level("WARNING", logger="lmrepro.tracking"):
        run.start({"a": 1}, {})
        run.log_metrics({"loss": 1.0}, step=0)
        run.log_input(tmp_root / "params.yaml", "abc", "training")
        run.set_tags({"x": "y"})
        run.end("FINISHED")
    assert run.degraded and run.run_id is None
    assert "start failed" in caplog.text and "disk I/O error" in caplog.text
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    record_fault("tracking store failing", "every MLflow client call raises 'disk I/O error'",
                 f"{len(warned)} warning(s), no exception; first: {first_line(warned[0].getMessage())}",
                 lost_summary(lost=["the stage's MLflow run record (stage outputs unaffected)"] if run.run_id is None else [],
                              checked=f"degraded={run.degraded}, run_id={run.run_id}"))


def test_a_non_transient_error_is_not_retried():
    calls = []

    def boom():
        calls.append(1)
        raise ValueError("bad value")

    try:
        tracking.retry(boom)
    except ValueError:
        pass
    assert calls == [1]


def test_a_unique_constraint_race_is_retried(record_fault):
    calls = []

    def racy():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest")
        return "linked"

    assert tracking.retry(racy) == "linked" and len(calls) == 2
    record_fault("UNIQUE-constraint race in the tracking store",
                 "a store call that fails once with sqlite3.IntegrityError 'UNIQUE constraint failed'",
                 f"nothing: tracking.retry called it {len(calls)} times and returned its result",
                 lost_summary(checked="the retried call's result returned"))


# -- parent runs: one per invocation and experiment, found or created race-free -----------
def _child_job(root: str, index: int, invocation: str, barrier, queue) -> None:
    os.environ["LMREPRO_ROOT"] = root
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    run = tracking.StageRun("rec", "child", "child")
    barrier.wait(timeout=120)
    run.start({"index": index}, {"lmrepro.stage": "child", "lmrepro.invocation_id": invocation}, invocation=invocation)
    run.log_metrics({"loss": 1.0}, step=0)
    run.end("FINISHED" if index else "FAILED")
    queue.put((run.run_id, run.parent_id, run.warnings))


def test_parallel_children_share_one_parent_run(tmp_root):
    """6 jobs of one invocation start at once: one parent run, all six its children; it
    ends when the last child does, FAILED because one child failed."""
    tracking.init(tmp_root)
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_child_job, args=(str(tmp_root), i, "inv-parallel", barrier, queue)) for i in range(6)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [w for _, _, w in results if w] == []
    client = tracking.client(tmp_root)
    exp = client.get_experiment_by_name(tracking.experiment_name("rec"))
    parents = client.search_runs([exp.experiment_id], filter_string=f"tags.`{tracking.PARENT_TAG}` = 'true'")
    assert len(parents) == 1 and {parent for _, parent, _ in results} == {parents[0].info.run_id}
    for run_id, _, _ in results:
        assert client.get_run(run_id).data.tags["mlflow.parentRunId"] == parents[0].info.run_id
    assert parents[0].info.status == "FAILED"
    assert parents[0].data.tags["mlflow.user"] and parents[0].data.tags["mlflow.source.type"] == "JOB"


def test_a_later_child_reopens_and_settles_its_parent(tmp_root):
    """dvc repro runs stages one by one: the parent ends with each, reopens for the next."""
    client = tracking.client(tmp_root)
    first = tracking.StageRun("data", "a", "a", tmp_root)
    first.start({}, {"lmrepro.stage": "a"}, invocation="inv-seq")
    first.end("FINISHED")
    assert client.get_run(first.parent_id).info.status == "FINISHED"
    second = tracking.StageRun("data", "b", "b", tmp_root)
    second.start({}, {"lmrepro.stage": "b"}, invocation="inv-seq")
    assert second.parent_id == first.parent_id and client.get_run(first.parent_id).info.status == "RUNNING"
    second.end("KILLED")
    assert client.get_run(first.parent_id).info.status == "FAILED"


def test_experiments_open_in_the_classic_model_training_view(tmp_root):
    """MLflow 3's UI opens an experiment without mlflow.experimentKind in its GenAI view;
    an experiment of an older store gets the tag on the next start."""
    client = tracking.client(tmp_root)
    old = client.create_experiment(tracking.experiment_name("edge"))
    tracking.init(tmp_root)
    for track in tracking.TRACKS:
        exp = client.get_experiment_by_name(tracking.experiment_name(track))
        assert exp.tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development", track
    assert client.get_experiment(old).tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"


def test_a_model_folder_becomes_a_logged_model_of_its_run(tmp_root):
    folder = tmp_root / "models" / "m"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    run = tracking.StageRun("rec", "train", "train", tmp_root)
    run.start({}, {})
    model_id = run.log_model(folder, "lightlm-beauty", "t5", {"dataset": "beauty"})
    run.end("FINISHED")
    client = tracking.client(tmp_root)
    model = client.get_logged_model(model_id)
    assert str(model.status) == "READY" and model.source_run_id == run.run_id and model.params == {"dataset": "beauty"}
    assert {f.path for f in client.list_logged_model_artifacts(model_id)} == {"model.safetensors", "config.json"}
    assert [o.model_id for o in client.get_run(run.run_id).outputs.model_outputs] == [model_id]
