"""The ProSG stages end to end at the smoke profile's sizes, through their real CLIs:

- two runs with the same params, seed and threads write byte-identical outputs, except
  the timing files (the only place wall-clock may go);
- eval_prosg's per-item predictions agree with its accuracy table;
- pre-training and generator training never read valid or test rows: they ask the
  loader for ``train`` only, and planting sentinel text in every valid/test row leaves
  their outputs byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from lmrepro import config, io
from lmrepro.data.schemas import TextCorpus
from lmrepro.prosg.schemas import ProsgAccuracy, ProsgExamples, ProsgPredictions
from lmrepro.stages import build_prosg_data, eval_prosg, pretrain_rnn, train_prosg
from tests.conftest import REPO

SMOKE = config.load_params(REPO / "params.yaml", REPO / "workflow" / "profiles" / "smoke" / "params.yaml")
VARIANTS = ("main", "sg")  # the two eval_prosg requires; r2 is the same code as main


def _cfg(*keys: str) -> str:
    params = {k: config.get_key(SMOKE, k) for k in (*keys, "runtime")}
    params["runtime"] = {**params["runtime"], "threads": 1, "device": "cpu"}
    return json.dumps(params)


def _run(module, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        module.stage.run([str(a) for a in argv])
    assert exit_.value.code == 0, f"{module.__name__} exited {exit_.value.code}"


@pytest.fixture(scope="module")
def root(corpus, tmp_path_factory):
    """A throwaway repo root (schemas, params, MLflow store) with the text corpus."""
    root = tmp_path_factory.mktemp("prosg-stages")
    shutil.copytree(REPO / "workflow" / "schemas" / "params", root / "workflow" / "schemas" / "params")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    old = {k: os.environ.get(k) for k in ("LMREPRO_ROOT", "MLFLOW_TRACKING_URI")}
    os.environ["LMREPRO_ROOT"] = str(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    io.write_table(corpus, root / "corpus.parquet", TextCorpus)
    yield root
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _train(root: Path, examples: Path, out: Path) -> None:
    _run(pretrain_rnn, ["--examples", examples, "--corpus", root / "corpus.parquet", "--out", out / "base",
                              "--metrics", out / "pretrain.json", "--timing", out / "timing" / "pretrain_rnn.json",
                              "--cfg", _cfg("prosg.tokenizer", "prosg.model", "prosg.pretrain")])
    for v in VARIANTS:
        _run(train_prosg, ["--variant", v, "--examples", examples, "--base", out / "base",
                           "--out", out / "generators" / v, "--metrics", out / f"train-{v}.json",
                           "--timing", out / "timing" / f"train_prosg-{v}.json",
                           "--cfg", _cfg("prosg.update", "prosg.train", f"prosg.variants.{v}")])


def _eval(examples: Path, models: Path, out: Path) -> None:
    _run(eval_prosg, ["--examples", examples, "--base", models / "base",
                      "--generators", *[models / "generators" / v for v in VARIANTS],
                      "--table", out / "accuracy.parquet", "--figure", out / "accuracy.png",
                      "--markdown", out / "accuracy.md", "--predictions", out / "preds.parquet",
                      "--timing", out / "timing" / "eval_prosg.json", "--metrics", out / "eval.json",
                      "--cfg", _cfg("prosg.eval")])


def _files(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes, keyed by relative path, timing files left out."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "timing" not in p.relative_to(folder).parts}


@pytest.fixture(scope="module")
def runs(root):
    """The smoke pipeline (build, pretrain, train, eval) twice, into a/ and b/."""
    for name in ("a", "b"):
        out = root / name
        _run(build_prosg_data, ["--corpus", root / "corpus.parquet", "--out", out / "examples.parquet",
                                "--metrics", out / "data.json", "--cfg", _cfg("prosg.data")])
        _train(root, out / "examples.parquet", out)
        _eval(out / "examples.parquet", out, out)
    return root / "a", root / "b"


def test_two_runs_are_byte_identical_except_timing(runs):
    a, b = runs
    files_a, files_b = _files(a), _files(b)
    assert {"examples.parquet", "data.json", "preds.parquet", "accuracy.parquet", "accuracy.png", "eval.json"} \
        <= files_a.keys()
    assert any(k.startswith("base/") for k in files_a) and any(k.startswith("generators/sg/") for k in files_a)
    assert files_a.keys() == files_b.keys()
    differ = [k for k in files_a if files_a[k] != files_b[k]]
    assert not differ, f"outputs differ between identical runs: {differ}"
    for stage in ("pretrain_rnn", "train_prosg-main", "train_prosg-sg", "eval_prosg"):
        seconds = io.read_json(a / "timing" / f"{stage}.json")["seconds"]
        assert min(seconds.values()) > 0 if isinstance(seconds, dict) else seconds > 0, stage
    # no wall-clock leaks into the result files: no key about seconds anywhere else
    for name in ("data.json", "eval.json", "pretrain.json", "train-main.json", "train-sg.json"):
        assert "second" not in (a / name).read_text(), name


def test_predictions_pair_every_method_with_every_test_item(root, runs):
    a, _ = runs
    preds = io.read_table(a / "preds.parquet", ProsgPredictions)
    acc = io.read_table(a / "accuracy.parquet", ProsgAccuracy)
    examples = io.read_table(a / "examples.parquet", ProsgExamples)
    test = examples[examples["split"] == "test"]
    methods = set(acc["method"])
    assert set(preds["method"]) == methods
    for method, g in preds.groupby("method"):
        assert sorted(g["uid"]) == sorted(test["uid"]), method  # every test item once, nothing else
    gold = preds.merge(test[["uid", "answer"]], on="uid", suffixes=("", "_gold"))
    assert (gold["answer"] == gold["answer_gold"]).all()
    assert (preds["seed"] == SMOKE["runtime"]["seed"]).all()
    # the aggregated table is exactly the per-item outcomes summed
    per_cell = preds.groupby(["method", "kind", "distance"])["correct"].agg(["sum", "size"]).reset_index()
    merged = acc[acc["kind"] != "all"].merge(per_cell, on=["method", "kind", "distance"], validate="one_to_one")
    assert len(merged) == len(per_cell)
    assert (merged["correct"] == merged["sum"]).all() and (merged["n"] == merged["size"]).all()
    # predictions are decoded model output, not the gold copied over
    assert ((preds["correct"] == 1) == (preds["prediction"] == preds["answer"])).mean() > 0.99


def test_predictions_schema_rejects_inconsistent_rows():
    row = {"method": "none", "uid": "test-kv-0-00000", "kind": "kv", "distance": 0, "seed": 0,
           "prediction": "garden", "answer": "letter", "correct": 1}
    with pytest.raises(Exception, match="correct_means_exact_answer"):
        ProsgPredictions.validate(pd.DataFrame([row]), lazy=True)
    with pytest.raises(Exception, match="uid"):
        ProsgPredictions.validate(pd.DataFrame([{**row, "prediction": "letter"}] * 2), lazy=True)


def _poisoned(examples: Path, out: Path) -> Path:
    """The same table with sentinel text in every valid and test row (keys unchanged, so
    the schema's split checks still hold)."""
    df = io.read_table(examples, ProsgExamples)
    held = df["split"] != "train"
    df.loc[held, "prompt"] = "Sentinel zqxj zqxj zqxj.\n"
    df.loc[held, "filler"] = "zqxj " * 40 + "\n"
    df.loc[held, "answer"] = "zqxj"
    io.write_table(df, out, ProsgExamples)
    return out


def test_training_stages_read_train_rows_only(root, runs, monkeypatch):
    a, _ = runs
    asked: list[str] = []
    for module in (pretrain_rnn, train_prosg):
        real = module.read_examples

        def recording(path, split, real=real):
            asked.append(split)
            return real(path, split)

        monkeypatch.setattr(module, "read_examples", recording)
    poisoned = _poisoned(a / "examples.parquet", root / "poisoned.parquet")
    _train(root, poisoned, root / "poisoned")
    assert asked and set(asked) == {"train"}
    trained = {k: v for k, v in _files(root / "poisoned").items()}
    clean = {k: v for k, v in _files(a).items() if k in trained}
    assert trained.keys() == clean.keys()
    differ = [k for k in trained if trained[k] != clean[k]]
    assert not differ, f"valid/test rows changed the trained outputs: {differ}"


def test_mlflow_final_values_equal_the_metrics_files(root, runs):
    """What the UI shows as each run's latest final/ value is the number in the stage's
    metrics JSON; the loss is logged at every step; models and predictions are recorded."""
    from lmrepro import tracking

    a, _ = runs
    client = tracking.client(root)
    exp = client.get_experiment_by_name(tracking.experiment_name("prosg"))
    found = [r for r in client.search_runs([exp.experiment_id], max_results=100) if "lmrepro.stage" in r.data.tags]
    by_label = {}
    for r in sorted(found, key=lambda r: r.info.start_time):  # runs a then b: keep a's
        by_label.setdefault(tracking.run_label(r.data.tags), r)
    for label, name in (("pretrain_rnn", "pretrain.json"), ("train_prosg[variant=main]", "train-main.json"),
                        ("train_prosg[variant=sg]", "train-sg.json")):
        run = by_label[label]
        reported = {k: v for k, v in io.read_json(a / name).items() if not isinstance(v, dict)}
        assert reported and {k: run.data.metrics[f"final/{k}"] for k in reported} == reported, label
        steps = io.read_json(a / "timing" / f"{label.replace('[variant=', '-').rstrip(']')}.json")["steps"]
        loss = [k for k in run.data.metrics if k.startswith("train/loss")]
        assert loss and all(len(client.get_metric_history(run.info.run_id, k)) == steps for k in loss), label
        [model] = client.search_logged_models([exp.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
        files = [f.path for f in client.list_logged_model_artifacts(model.model_id)]
        assert str(model.status) == "READY" and [f for f in files if f.endswith(".safetensors")], (label, files)
    evaluation = by_label["eval_prosg"]
    assert [f.path for f in client.list_artifacts(evaluation.info.run_id, "predictions")] == ["predictions/preds.parquet"]
    means = io.read_json(a / "eval.json")["mean_accuracy"]
    assert {m: evaluation.data.metrics[tracking._metric_key(f"final/mean_accuracy_{m}")] for m in means} == means
