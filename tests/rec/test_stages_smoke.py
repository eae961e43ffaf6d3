"""One-epoch smoke of every model through its real stage (rec_train: lightlm, wide, p5;
rec_peer: sasrec, mostpop) on a tiny Beauty sample, with the smoke profile's sizes, plus
stage-level determinism: the same params, seed and threads give identical metrics."""

from __future__ import annotations

import json

import pytest

from lmrepro import config, io
from lmrepro.data.schemas import RecInteractions
from lmrepro.rec.data import read_sequences_txt, subset_users
from lmrepro.rec.schemas import UserMetrics
from tests.conftest import REPO

SMOKE = config.load_params(REPO / "params.yaml", REPO / "workflow" / "profiles" / "smoke" / "params.yaml")
USERS = 30


def _cfg(*keys: str, **runtime) -> str:
    params = {k: config.get_key(SMOKE, k) for k in (*keys, "rec.eval", "runtime")}
    params["rec.subset"] = {"max_users": 0, "seed": 0}  # the fixture is already tiny
    params["runtime"] = {**params["runtime"], "threads": 1, **runtime}
    return json.dumps(params)


def _run(module, argv):
    with pytest.raises(SystemExit) as exit_:
        module.stage.run(argv)
    assert exit_.value.code == 0, f"{module.__name__} exited {exit_.value.code}"


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory):
    """A repo root with a 30-user Beauty table and its SCI index (smoke spectral sizes)."""
    import os
    import shutil

    from lmrepro.stages import rec_index

    root = tmp_path_factory.mktemp("rec-smoke")
    shutil.copytree(REPO / "workflow" / "schemas" / "params", root / "workflow" / "schemas" / "params")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    old = {k: os.environ.get(k) for k in ("LMREPRO_ROOT", "MLFLOW_TRACKING_URI")}
    os.environ["LMREPRO_ROOT"] = str(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    df = subset_users(read_sequences_txt(shared_data / "rec" / "Beauty.txt"), USERS, 0)
    inter = root / "beauty.parquet"
    io.write_table(df, inter, RecInteractions)
    index = root / "sci.parquet"
    _run(rec_index, ["--dataset", "beauty", "--method", "sci", "--interactions", str(inter),
                     "--out", str(index), "--metrics", str(root / "index.json"), "--cfg", _cfg("rec.index.sci")])
    yield root, inter, index
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _train(tiny, model, setting, tag):
    from lmrepro.stages import rec_train

    root, inter, index = tiny
    out = root / tag
    _run(rec_train, ["--dataset", "beauty", "--method", "sci", "--model", model, "--setting", setting,
                     "--interactions", str(inter), "--index", str(index), "--model-dir", str(out / "model"),
                     "--per-user", str(out / "per_user.parquet"), "--metrics", str(out / "m.json"),
                     "--timing", str(out / "t.json"), "--cfg", _cfg("rec.model", "rec.train")])
    return out


@pytest.mark.parametrize("model,setting", [("lightlm", "sequential"), ("wide", "direct"), ("p5", "sequential")])
def test_one_epoch_generative_model(tiny, model, setting):
    out = _train(tiny, model, setting, f"{model}-{setting}")
    m = io.read_json(out / "m.json")
    assert m["users"] == USERS and m["params"] > 0 and m["best_epoch"] == 0
    for k in ("test_hr@5", "test_ndcg@10", "valid_hr@20"):
        assert 0.0 <= m[k] <= 1.0
    per_user = io.read_table(out / "per_user.parquet", UserMetrics)
    # test on every user, valid on the selection users only (rec.train.valid_users of them)
    assert (per_user.split == "test").sum() == USERS
    assert (per_user.split == "valid").sum() == m["valid_users"] == min(SMOKE["rec"]["train"]["valid_users"], USERS)
    assert set(per_user.user[per_user.split == "valid"]) < set(per_user.user[per_user.split == "test"])
    assert 0.0 <= m["unseen_test_share"] <= 1.0
    assert (out / "model" / "model.safetensors").is_file()
    assert io.read_json(out / "model" / "config.json")["setting"] == setting
    assert len(io.read_json(out / "t.json")["curve"]) == 1


def _peer(tiny, peer, tag, **runtime):
    from lmrepro.stages import rec_peer

    root, inter, _ = tiny
    out = root / tag
    extra = ["--model-dir", str(out / "model"), "--timing", str(out / "t.json")] if peer == "sasrec" else []
    keys = ("rec.peer.sasrec",) if peer == "sasrec" else ()
    _run(rec_peer, ["--dataset", "beauty", "--peer", peer, "--interactions", str(inter),
                    "--per-user", str(out / "pu.parquet"), "--metrics", str(out / "m.json"), *extra,
                    "--cfg", _cfg(*keys, **runtime)])
    return out


@pytest.mark.parametrize("peer", ["sasrec", "mostpop"])
def test_one_epoch_peer(tiny, peer):
    out = _peer(tiny, peer, f"peer-{peer}")
    m = io.read_json(out / "m.json")
    assert m["users"] == USERS and 0.0 <= m["test_hr@20"] <= 1.0
    assert len(io.read_table(out / "pu.parquet", UserMetrics)) == 2 * USERS
    if peer == "sasrec":
        assert m["params"] > 0 and (out / "model" / "model.safetensors").is_file()
        assert len(io.read_json(out / "t.json")["curve"]) == SMOKE["rec"]["peer"]["sasrec"]["epochs"]


def test_training_stage_is_deterministic(tiny):
    """Same params, seed and threads => identical metrics, per-user ranks and weights."""
    a = _train(tiny, "lightlm", "direct", "det-a")
    b = _train(tiny, "lightlm", "direct", "det-b")
    assert io.read_json(a / "m.json") == io.read_json(b / "m.json")
    assert io.read_table(a / "per_user.parquet", UserMetrics).equals(io.read_table(b / "per_user.parquet", UserMetrics))
    assert io.sha256_file(a / "model" / "model.safetensors") == io.sha256_file(b / "model" / "model.safetensors")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="auto means CUDA on this machine")
def test_auto_device_without_cuda_gives_the_cpu_results(tiny):
    """runtime.device=auto (and amp, which only acts on CUDA) on a CPU-only machine: the
    same metrics, per-user ranks and weights as device=cpu."""
    a = _peer(tiny, "sasrec", "dev-cpu", device="cpu", amp=False)
    b = _peer(tiny, "sasrec", "dev-auto", device="auto", amp=True)
    assert io.read_json(a / "m.json") == io.read_json(b / "m.json")
    assert io.read_table(a / "pu.parquet", UserMetrics).equals(io.read_table(b / "pu.parquet", UserMetrics))
    assert io.sha256_file(a / "model" / "model.safetensors") == io.sha256_file(b / "model" / "model.safetensors")


@pytest.fixture(scope="module")
def tiny_swapped_test(tiny):
    """The same table with the users' test items rotated among users: the same catalogue and
    training/validation rows, different test rows."""
    import numpy as np

    root, inter, index = tiny
    df = io.read_table(inter, RecInteractions)
    test = df["split"] == "test"
    items = df.loc[test, "item"].to_numpy()
    assert len(np.unique(items)) > 1
    df.loc[test, "item"] = np.roll(items, 1)
    assert (df.loc[test, "item"].to_numpy() != items).any()
    swapped = root / "beauty-swapped-test.parquet"
    io.write_table(df, swapped, RecInteractions)
    return root, swapped, index


def _valid_only(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.startswith("test_") and k not in ("seconds",)}


@pytest.mark.parametrize("model", ["lightlm", "sasrec", "mostpop"])
def test_training_and_selection_never_read_test_rows(tiny, tiny_swapped_test, model):
    """Rotating the test items among users changes nothing the stage learns or selects:
    identical weights and validation metrics; only the test metrics may move."""
    if model == "lightlm":
        a, b = _train(tiny, model, "sequential", "leak-a"), _train(tiny_swapped_test, model, "sequential", "leak-b")
        files = ("m.json", "model/model.safetensors")
    else:
        a, b = _peer(tiny, model, f"leak-{model}-a"), _peer(tiny_swapped_test, model, f"leak-{model}-b")
        files = ("m.json", "model/model.safetensors") if model == "sasrec" else ("m.json",)
    if "model/model.safetensors" in files:
        assert io.sha256_file(a / "model" / "model.safetensors") == io.sha256_file(b / "model" / "model.safetensors")
    ma, mb = io.read_json(a / "m.json"), io.read_json(b / "m.json")
    assert _valid_only(ma) == _valid_only(mb)


def _stage_runs(root, invocation):
    from lmrepro import tracking

    client = tracking.client(root)
    exp = client.get_experiment_by_name(tracking.experiment_name("rec"))
    found = client.search_runs([exp.experiment_id], filter_string=f"tags.`lmrepro.invocation_id` = '{invocation}'")
    return client, [r for r in found if "lmrepro.stage" in r.data.tags], [r for r in found if r.data.tags.get(tracking.PARENT_TAG)]


@pytest.mark.parametrize("kind", ["lightlm", "sasrec"])
def test_mlflow_shows_the_reported_numbers(tiny, kind, monkeypatch):
    """Read the run back as the UI does (get_run: the latest value per key): each final/
    value equals the number in the stage's metrics JSON; the per-epoch series (on the
    selection users) live under other keys; loss per step, the input dataset, the model
    (a LoggedModel with its safetensors) and the per-user table are recorded; the run is
    a child of the invocation's parent and carries only its own model's geometry."""
    import uuid

    from lmrepro import tracking

    invocation = f"readback-{kind}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LMREPRO_INVOCATION_ID", invocation)
    root = tiny[0]
    out = _train(tiny, "lightlm", "sequential", f"mlflow-{kind}") if kind == "lightlm" else _peer(tiny, "sasrec", "mlflow-sasrec")
    reported = io.read_json(out / "m.json")
    client, [run], [parent] = _stage_runs(root, invocation)
    latest = run.data.metrics
    for key, value in reported.items():
        assert latest[tracking._metric_key(f"final/{key}")] == pytest.approx(value, rel=0, abs=0), key
    assert not [k for k in latest if k.startswith("valid_") or k.startswith("test_")], "a reported value under a series key"
    epochs = len(io.read_json(out / "t.json")["curve"])
    assert len(client.get_metric_history(run.info.run_id, "valid/hr_at_20")) == epochs
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == epochs
    assert len(client.get_metric_history(run.info.run_id, "train/step_loss")) >= epochs
    assert [d.dataset.name for d in run.inputs.dataset_inputs][0] == "beauty.parquet"
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and parent.info.status == "FINISHED"
    assert run.info.run_name == ("rec_train" if kind == "lightlm" else "rec_peer")
    if kind == "lightlm":
        assert run.data.params["model"] == "lightlm"
        assert not [k for k in run.data.params if k.startswith(("rec.model.p5", "rec.model.wide"))], run.data.params
    [model] = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    assert str(model.status) == "READY" and model.name.startswith("lightlm" if kind == "lightlm" else "sasrec")
    assert "model.safetensors" in {f.path for f in client.list_logged_model_artifacts(model.model_id)}
    assert [f.path for f in client.list_artifacts(run.info.run_id, "predictions")] == [
        "predictions/" + ("per_user.parquet" if kind == "lightlm" else "pu.parquet")]


def test_index_metrics_hold_the_id_tree(tiny):
    """rec_index writes the ID-tree statistics of the table it wrote (tree_stats.py)."""
    from lmrepro.rec.indexing.tree_stats import tree_stats
    from lmrepro.rec.schemas import IndexTable

    root, inter, index = tiny
    stats = io.read_json(root / "index.json")
    table = io.read_table(index, IndexTable)
    expected = tree_stats(table, io.read_table(inter, RecInteractions), users_in_item_tree=True)
    assert {k: stats[k] for k in expected} == expected
    assert sum(v for k, v in stats.items() if k.startswith("item_id_len_count_")) == stats["n_items"]
    assert stats["tree_depth"] == stats["item_id_len_max"] - 1
