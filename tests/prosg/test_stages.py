"""The ProSG stages end to end at the smoke profile's sizes, through their real CLIs:

- two runs with the same params, seed and threads write byte-identical outputs, except
  the timing files (the only place wall-clock may go);
- eval_prosg's per-item predictions (one file per seed) agree with summarize_prosg's
  accuracy table (means over seeds and items), and every item is scored under every seed;
- pre-training (short and long base) and generator training never read valid or test
  rows: they ask the loader for ``train`` only, and planting sentinel text in every
  valid/test row leaves their outputs byte-identical;
- the long base is its seed's short base continued (same tokenizer, other weights), scored
  by eval_prosg_long into the same pooled predictions;
- eval_prosg's ProSG line is the rank variant its valid scores choose.
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
from lmrepro.stages import build_prosg_data as prosg_build_data
from lmrepro.stages import eval_prosg as prosg_eval
from lmrepro.stages import eval_prosg_long as prosg_eval_long
from lmrepro.stages import pretrain_rnn as prosg_pretrain_rnn
from lmrepro.stages import pretrain_rnn_long as prosg_pretrain_long
from lmrepro.stages import summarize_prosg
from lmrepro.stages import train_prosg as prosg_train
from lmrepro.stages import tune_prosg as prosg_tune
from tests.conftest import REPO

SMOKE = config.load_params(REPO / "params.yaml", REPO / "workflow" / "profiles" / "smoke" / "params.yaml")
VARIANTS = ("main", "sg", "shuffled", "r2")  # the three eval_prosg requires and main's rank rival
SEEDS = SMOKE["prosg"]["seeds"]
TUNE = SMOKE["prosg"]["tune"]


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


def _tune(examples: Path, out: Path) -> None:
    """The validation search's trials on the base of prosg.tune.seed (already pre-trained in out)."""
    s = f"s{TUNE['seed']}"
    for leader in TUNE["families"]:
        for lr in TUNE["lrs"]:
            _run(prosg_tune, ["--variant", leader, "--lr", f"{lr:g}", "--examples", examples,
                              "--base", out / "base" / s, "--metrics", out / f"tune-{leader}-lr{lr:g}.json",
                              "--timing", out / "timing" / f"tune_prosg-{leader}-lr{lr:g}.json",
                              "--cfg", _cfg("prosg.update", "prosg.train", "prosg.tune", f"prosg.variants.{leader}",
                                            "prosg.eval.batch_size")])


def _train(root: Path, examples: Path, out: Path, seed: int, tune: bool = True) -> None:
    s = f"s{seed}"
    _run(prosg_pretrain_rnn, ["--seed", seed, "--examples", examples, "--corpus", root / "corpus.parquet",
                              "--out", out / "base" / s, "--metrics", out / f"pretrain-{s}.json",
                              "--timing", out / "timing" / f"pretrain_rnn-{s}.json",
                              "--cfg", _cfg("prosg.tokenizer", "prosg.model", "prosg.pretrain")])
    if tune and seed == TUNE["seed"]:  # the validation search runs on this seed's base (smoke: the first seed)
        _tune(examples, out)
    for v in VARIANTS:
        trials = [out / f"tune-{leader}-lr{lr:g}.json" for leader in TUNE["families"] for lr in TUNE["lrs"]]
        _run(prosg_train, ["--seed", seed, "--variant", v, "--examples", examples, "--base", out / "base" / s,
                           "--trials", *trials,
                           "--out", out / "generators" / s / v, "--metrics", out / f"train-{s}-{v}.json",
                           "--timing", out / "timing" / f"train_prosg-{s}-{v}.json",
                           "--cfg", _cfg("prosg.update", "prosg.train", "prosg.tune.families", "prosg.variants")])
    _run(prosg_pretrain_long, ["--seed", seed, "--base", out / "base" / s, "--examples", examples,
                               "--corpus", root / "corpus.parquet", "--out", out / "base_long" / s,
                               "--metrics", out / f"pretrain_long-{s}.json",
                               "--timing", out / "timing" / f"pretrain_rnn_long-{s}.json",
                               "--cfg", _cfg("prosg.long_base")])
    _run(prosg_train, ["--seed", seed, "--variant", "main", "--label", "main-long-base", "--examples", examples,
                       "--base", out / "base_long" / s, "--trials", *trials,
                       "--out", out / "generators_long" / s / "main", "--metrics", out / f"train_long-{s}-main.json",
                       "--timing", out / "timing" / f"train_prosg_long-{s}-main.json",
                       "--cfg", _cfg("prosg.update", "prosg.train", "prosg.tune.families", "prosg.variants")])


def _eval(examples: Path, models: Path, out: Path) -> None:
    for seed in SEEDS:
        s = f"s{seed}"
        _run(prosg_eval, ["--seed", seed, "--examples", examples, "--base", models / "base" / s,
                          "--generators", *[models / "generators" / s / v for v in VARIANTS],
                          "--predictions", out / f"preds-{s}.parquet", "--timing", out / "timing" / f"eval_prosg-{s}.json",
                          "--metrics", out / f"eval-{s}.json", "--cfg", _cfg("prosg.eval")])
        _run(prosg_eval_long, ["--seed", seed, "--examples", examples, "--base", models / "base_long" / s,
                               "--generator", models / "generators_long" / s / "main",
                               "--predictions", out / f"preds_long-{s}.parquet",
                               "--timing", out / "timing" / f"eval_prosg_long-{s}.json",
                               "--metrics", out / f"eval_long-{s}.json", "--cfg", _cfg("prosg.eval.batch_size")])
    _run(summarize_prosg, ["--predictions", *[out / f"preds-s{seed}.parquet" for seed in SEEDS],
                         *[out / f"preds_long-s{seed}.parquet" for seed in SEEDS],
                         "--evals", *[out / f"eval-s{seed}.json" for seed in SEEDS],
                         "--pooled", out / "preds.parquet", "--table", out / "accuracy.parquet",
                         "--figure", out / "accuracy.png", "--long-figure", out / "long_base.png",
                         "--markdown", out / "accuracy.md",
                         "--metrics", out / "eval.json", "--cfg", _cfg("prosg.seeds", "claims")])


def _files(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes, keyed by relative path, timing files left out."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "timing" not in p.relative_to(folder).parts}


@pytest.fixture(scope="module")
def runs(root):
    """The smoke pipeline (build, pretrain, train, eval) twice, into a/ and b/."""
    for name in ("a", "b"):
        out = root / name
        _run(prosg_build_data, ["--corpus", root / "corpus.parquet", "--out", out / "examples.parquet",
                                "--metrics", out / "data.json", "--cfg", _cfg("prosg.data")])
        for seed in SEEDS:
            _train(root, out / "examples.parquet", out, seed)
        _eval(out / "examples.parquet", out, out)
    return root / "a", root / "b"


def test_two_runs_are_byte_identical_except_timing(runs):
    a, b = runs
    files_a, files_b = _files(a), _files(b)
    assert {"examples.parquet", "data.json", "preds.parquet", "accuracy.parquet", "accuracy.png", "long_base.png",
            "eval.json"} <= files_a.keys()
    for seed in SEEDS:
        assert any(k.startswith(f"base/s{seed}/") for k in files_a)
        assert any(k.startswith(f"base_long/s{seed}/") for k in files_a)
        assert any(k.startswith(f"generators/s{seed}/shuffled/") for k in files_a)
        assert any(k.startswith(f"generators_long/s{seed}/main/") for k in files_a)
    assert files_a.keys() == files_b.keys()
    differ = [k for k in files_a if files_a[k] != files_b[k]]
    assert not differ, f"outputs differ between identical runs: {differ}"
    s = f"s{SEEDS[0]}"
    for stage in (f"pretrain_rnn-{s}", f"train_prosg-{s}-main", f"train_prosg-{s}-shuffled", f"eval_prosg-{s}",
                  f"pretrain_rnn_long-{s}", f"train_prosg_long-{s}-main", f"eval_prosg_long-{s}"):
        seconds = io.read_json(a / "timing" / f"{stage}.json")["seconds"]
        assert min(seconds.values()) > 0 if isinstance(seconds, dict) else seconds > 0, stage
    # no wall-clock leaks into the result files: no key about seconds anywhere else
    for name in ("data.json", "eval.json", f"eval-{s}.json", f"pretrain-{s}.json", f"train-{s}-main.json",
                 f"pretrain_long-{s}.json", f"eval_long-{s}.json"):
        assert "second" not in (a / name).read_text(), name


def test_predictions_pair_every_method_with_every_test_item(root, runs):
    a, _ = runs
    preds = io.read_table(a / "preds.parquet", ProsgPredictions)
    acc = io.read_table(a / "accuracy.parquet", ProsgAccuracy)
    examples = io.read_table(a / "examples.parquet", ProsgExamples)
    test = examples[examples["split"] == "test"]
    methods = set(acc["method"])
    assert {"prosg_other", "prosg_shuffled", "prosg", "none", "prosg_main", "prosg_r2",
            "long_none", "long_repeat", "long_prosg"} <= methods
    assert set(preds["method"]) == methods
    for (method, seed), g in preds.groupby(["method", "seed"]):
        assert sorted(g["uid"]) == sorted(test["uid"]), (method, seed)  # every test item once per seed
    assert sorted(preds["seed"].unique()) == sorted(SEEDS)
    gold = preds.merge(test[["uid", "answer"]], on="uid", suffixes=("", "_gold"))
    assert (gold["answer"] == gold["answer_gold"]).all()
    # the table is the per-item outcomes averaged over seeds and items, the CI around it
    per_cell = preds.groupby(["method", "kind", "distance"])["correct"].agg(["mean", "size"]).reset_index()
    merged = acc[acc["kind"] != "all"].merge(per_cell, on=["method", "kind", "distance"], validate="one_to_one")
    assert len(merged) == len(per_cell)
    assert (merged["accuracy"] - merged["mean"]).abs().max() < 1e-12
    assert (merged["n"] * merged["seeds"] == merged["size"]).all() and (merged["seeds"] == len(SEEDS)).all()
    assert ((acc["ci_low"] <= acc["accuracy"] + 1e-12) & (acc["accuracy"] <= acc["ci_high"] + 1e-12)).all()
    # predictions are decoded model output, not the gold copied over
    # (a wrong row can still decode to the answer: the right words, then a whitespace token
    # instead of the end token; the smoke models do that on a few items)
    wrong = preds[preds["correct"] == 0]
    assert (wrong["prediction"] != wrong["answer"]).mean() > 0.9


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
    for module in (prosg_pretrain_rnn, prosg_train, prosg_pretrain_long):
        real = module.read_examples

        def recording(path, split, real=real):
            asked.append(split)
            return real(path, split)

        monkeypatch.setattr(module, "read_examples", recording)
    poisoned = _poisoned(a / "examples.parquet", root / "poisoned.parquet")
    (root / "poisoned").mkdir(exist_ok=True)
    for trial in a.glob("tune-*.json"):  # the choices made on the clean valid split (tested below)
        shutil.copy(trial, root / "poisoned" / trial.name)
    _train(root, poisoned, root / "poisoned", SEEDS[0], tune=False)
    assert asked and set(asked) == {"train"}
    trained = {k: v for k, v in _files(root / "poisoned").items()}
    clean = {k: v for k, v in _files(a).items() if k in trained}
    assert trained.keys() == clean.keys()
    differ = [k for k in trained if trained[k] != clean[k]]
    assert not differ, f"valid/test rows changed the trained outputs: {differ}"


def test_the_validation_search_never_reads_test_rows(root, runs, monkeypatch):
    """tune_prosg asks for train and valid rows only, and sentinel text in every test row
    leaves its curves byte-identical; train_prosg uses the (lr, steps) the curves choose."""
    from lmrepro.prosg import tuning

    a, _ = runs
    asked: list[str] = []
    real = prosg_tune.read_examples
    monkeypatch.setattr(prosg_tune, "read_examples", lambda path, split: asked.append(split) or real(path, split))
    df = io.read_table(a / "examples.parquet", ProsgExamples)
    test = df["split"] == "test"
    df.loc[test, "prompt"], df.loc[test, "answer"] = "Sentinel zqxj zqxj zqxj.\n", "zqxj"
    io.write_table(df, root / "test-poisoned.parquet", ProsgExamples)
    out = root / "tune-test-poisoned"
    shutil.copytree(a / "base" / f"s{TUNE['seed']}", out / "base" / f"s{TUNE['seed']}")
    _tune(root / "test-poisoned.parquet", out)
    assert set(asked) == {"train", "valid"}
    for trial in sorted(a.glob("tune-*.json")):
        assert (out / trial.name).read_bytes() == trial.read_bytes(), trial.name
    for leader, members in TUNE["families"].items():
        chosen = tuning.select([io.read_json(a / f"tune-{leader}-lr{lr:g}.json") for lr in TUNE["lrs"]])
        for v in set(members) & set(VARIANTS):
            assert io.read_json(a / f"train-s{SEEDS[0]}-{v}.json")["tuned"] == chosen, v
            assert io.read_json(a / "timing" / f"train_prosg-s{SEEDS[0]}-{v}.json")["steps"] == chosen["steps"], v


def test_registry_claims_pair_items_and_seeds(root, runs, tmp_path):
    """Every ProSG claim of workflow/claims/prosg.yaml runs on the pooled predictions with
    the seeds as a second resampling level (McNemar does not apply to several seeds)."""
    from lmrepro.claims import engine, registry
    from lmrepro.prosg import outcomes

    a, _ = runs
    (tmp_path / "data" / "prosg").mkdir(parents=True)
    shutil.copy(a / "preds.parquet", tmp_path / "data" / "prosg" / "preds.parquet")
    reg = registry.load(REPO / "workflow" / "claims" / "prosg.yaml", REPO)
    load = outcomes.loader(tmp_path)
    arm = load({"method": "prosg", "distance": "farthest"}, "exact_match")
    assert arm.n_seeds == len(SEEDS) and arm.n_units == SMOKE["prosg"]["data"]["n_test"] * 3
    gain = next(c for c in reg.claims if c.id == "prosg-gain-is-the-prompts")
    assert {b.select["method"] for b in gain.b} == {"prosg_other", "prosg_shuffled"}
    results = engine.evaluate_paper(reg, load, n_boot=200)
    assert [r.id for r in results] == [c.id for c in reg.claims]
    assert all(r.seeds == len(SEEDS) for r in results)


def test_mlflow_final_values_equal_the_metrics_files(root, runs):
    """What the UI shows as each run's latest final/ value is the number in the stage's
    metrics JSON; the loss is logged at every step; models and predictions are recorded."""
    from lmrepro import tracking

    a, _ = runs
    client = tracking.client(root)
    exp = client.get_experiment_by_name(tracking.experiment_name("prosg"))
    found = [r for r in client.search_runs([exp.experiment_id], max_results=200) if "lmrepro.stage" in r.data.tags]
    by_label = {}
    for r in sorted(found, key=lambda r: r.info.start_time):  # runs a then b: keep a's
        by_label.setdefault(tracking.run_label(r.data.tags), r)
    seed = SEEDS[0]
    for label, name, timing in (
        (f"pretrain_rnn[seed={seed}]", f"pretrain-s{seed}.json", f"pretrain_rnn-s{seed}.json"),
        (f"train_prosg[seed={seed},variant=main]", f"train-s{seed}-main.json", f"train_prosg-s{seed}-main.json"),
        (f"train_prosg[seed={seed},variant=shuffled]", f"train-s{seed}-shuffled.json",
         f"train_prosg-s{seed}-shuffled.json"),
    ):
        run = by_label[label]
        reported = {k: v for k, v in io.read_json(a / name).items() if not isinstance(v, dict)}
        assert reported and {k: run.data.metrics[f"final/{k}"] for k in reported} == reported, label
        steps = io.read_json(a / "timing" / timing)["steps"]
        loss = [k for k in run.data.metrics if k.startswith("train/loss")]
        assert loss and all(len(client.get_metric_history(run.info.run_id, k)) == steps for k in loss), label
        [model] = client.search_logged_models([exp.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
        files = [f.path for f in client.list_logged_model_artifacts(model.model_id)]
        assert str(model.status) == "READY" and [f for f in files if f.endswith(".safetensors")], (label, files)
    evaluation = by_label[f"eval_prosg[seed={seed}]"]
    assert [f.path for f in client.list_artifacts(evaluation.info.run_id, "predictions")] == \
        [f"predictions/preds-s{seed}.parquet"]
    preds = io.read_table(a / f"preds-s{seed}.parquet", ProsgPredictions)
    means = {m: float(v) for m, v in preds.groupby("method")["correct"].mean().items()}
    assert {m: evaluation.data.metrics[tracking._metric_key(f"final/mean_accuracy_{m}")] for m in means} == means


def test_the_long_base_continues_its_seeds_base(runs):
    """Same tokenizer and architecture as the seed's short base, other weights, and every
    continuation step practised one distance of the range up to prosg.long_base.max_distance."""
    from safetensors.torch import load_file

    a, _ = runs
    long_cfg = SMOKE["prosg"]["long_base"]
    allowed = {d for d in SMOKE["prosg"]["data"]["distances"] if d <= long_cfg["max_distance"]}
    for seed in SEEDS:
        short, long = a / "base" / f"s{seed}", a / "base_long" / f"s{seed}"
        assert (long / "tokenizer.json").read_bytes() == (short / "tokenizer.json").read_bytes()
        assert (long / "config.json").read_bytes() == (short / "config.json").read_bytes()
        w_short, w_long = load_file(str(short / "model.safetensors")), load_file(str(long / "model.safetensors"))
        assert w_short.keys() == w_long.keys()
        assert any(not (w_short[k] == w_long[k]).all() for k in w_short), seed
        metrics = io.read_json(a / f"pretrain_long-s{seed}.json")
        assert sum(metrics["steps_per_distance"].values()) == metrics["steps"] == long_cfg["steps"]
        assert {int(d) for d in metrics["steps_per_distance"]} <= allowed


def test_the_prosg_line_is_the_rank_valid_chooses(runs):
    """eval_prosg records every rank candidate's valid accuracy; method prosg is the best one
    (ties: the first listed) and its outcomes are that variant's, also kept under its name."""
    a, _ = runs
    preds = io.read_table(a / "preds.parquet", ProsgPredictions)
    candidates = SMOKE["prosg"]["eval"]["rank_candidates"]
    for seed in SEEDS:
        m = io.read_json(a / f"eval-s{seed}.json")
        scores = m["rank_valid_accuracy"]
        assert list(scores) == candidates
        best = max(candidates, key=lambda c: (scores[c], -candidates.index(c)))
        assert m["rank_variant"] == best
        assert m["rank"] == SMOKE["prosg"]["variants"][best]["rank"]
        mine = preds[preds["seed"] == seed].set_index(["method", "uid"])["correct"]
        assert (mine.loc["prosg"] == mine.loc[f"prosg_{best}"].reindex(mine.loc["prosg"].index)).all()
