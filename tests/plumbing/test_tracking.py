"""MLflow tracking under parallel jobs sharing one SQLite store."""

import multiprocessing as mp
import os

from lmrepro import tracking


def _job(root: str, index: int, queue) -> None:
    os.environ["LMREPRO_ROOT"] = root
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    run = tracking.StageRun("data", f"job{index}", f"job{index}")
    run.start({"index": index}, {"lmrepro.stage": f"job{index}"})
    for step in range(300):
        run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 300}, step=step)
    run.end("FINISHED")
    queue.put(run.run_id)


def test_parallel_jobs_lose_no_run_and_no_metric(tmp_root):
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
