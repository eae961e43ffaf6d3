"""Every MTA stage, run for real at the smoke profile's sizes on SST-2 + MSRP from the raw
mirror, twice, in-process, against a throwaway sqlite MLflow store:

- reproducibility: the two runs' outputs are byte-identical except the timing files,
  which alone hold wall times (and the report still gets its Time column from them);
- training curves: each training stage's MLflow run holds the per-step training loss,
  the per-epoch validation score and the final validation score, read back via MlflowClient;
- splits: no training step reads a non-train row, and no test row is read before the
  model reading it has finished training (validation reads valid rows only).
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lmrepro import config, io, tracking
from lmrepro.mta import precision
from lmrepro.mta.methods import BASELINES
from tests.conftest import REPO

SMOKE = config.load_params(REPO / "params.yaml", REPO / "workflow" / "profiles" / "smoke" / "params.yaml")
COMMON = ("mta.backbone", "mta.data", "mta.mixture", "mta.seeds", "mta.search", "mta.precision")
TRAINING = ("mta_stage1", "mta_stage2", "mta_stage2_neutral", *(f"mta_baseline-{b}" for b in BASELINES))


def _cfg(*keys: str) -> str:
    params = {k: config.get_key(SMOKE, k) for k in (*keys, "runtime")}
    params["runtime"] = {**params["runtime"], "threads": 1, "device": "cpu", "amp": False}
    return json.dumps(params)


def _run(module, argv) -> None:
    with pytest.raises(SystemExit) as exit_:
        module.stage.run([str(a) for a in argv])
    assert exit_.value.code == 0, f"{module.__name__} exited {exit_.value.code}"


class Reads:
    """Records every batch a model reads through Inputs.logits: which stage, which model
    (kept alive so ids stay unique), training mode or not, and which rows."""

    def __init__(self) -> None:
        self.stage = ""
        self.events: list[tuple[str, int, bool, np.ndarray]] = []
        self.models: list = []

    def wrap(self, original):
        def logits(inputs, model, rows, task):
            self.models.append(model)
            self.events.append((self.stage, id(model), bool(model.training), np.asarray(rows).copy()))
            return original(inputs, model, rows, task)

        return logits


def run_pipeline(root: Path, table: Path, reads: Reads | None = None) -> None:
    """All MTA stages at smoke size, outputs under ``root`` in the repository layout."""
    from lmrepro.stages import mta_baseline, mta_eval, mta_features, mta_placement, mta_stage1, mta_stage2

    def stage(name):
        if reads is not None:
            reads.stage = name
            reads.models.clear()  # ids only need to be unique within a stage

    feats = ["--examples", root / "data/mta/examples.parquet", "--tokens", root / "data/mta/tokens.safetensors",
             "--features", root / "data/mta/features.safetensors"]
    timing = root / "reports/mta/timing"
    placed = ["--placement", root / "data/mta/placement.json"]  # the smoke profile trains at the chosen placement
    stage("mta_placement")
    _run(mta_placement, ["--tasks-table", table, "--out", root / "data/mta/placement.json",
                         "--timing", timing / "mta_placement.json", "--cfg", _cfg(*COMMON, "mta.stage1", "mta.placement")])
    _run(mta_features, ["--tasks-table", table, *feats, "--timing", timing / "mta_features.json", *placed,
                        "--cfg", _cfg("mta.backbone", "mta.data", "mta.mixture.blocks")])
    stage("mta_stage1")
    s1 = ["--stage1", root / "models/mta/stage1", "--stage1-runs", root / "data/mta/runs/adapters.json"]
    _run(mta_stage1, [*feats, "--out-dir", root / "models/mta/stage1", "--preds", root / "data/mta/preds/adapters.parquet",
                      "--runs", root / "data/mta/runs/adapters.json", "--timing", timing / "mta_stage1.json", *placed,
                      "--cfg", _cfg(*COMMON, "mta.stage1")])
    stage("mta_stage2")
    _run(mta_stage2, [*feats, *s1, "--bundle", root / "models/mta/mta", "--preds", root / "data/mta/preds/mta.parquet",
                      "--runs", root / "data/mta/runs/mta.json", "--gates", root / "data/mta/gates/mta.json",
                      "--timing", timing / "mta_stage2.json", *placed, "--cfg", _cfg(*COMMON, "mta.stage2")])
    stage("mta_stage2_neutral")
    _run(mta_stage2, ["--method", "mta_neutral", *feats, *s1, "--preds", root / "data/mta/preds/mta_neutral.parquet",
                      "--runs", root / "data/mta/runs/mta_neutral.json",
                      "--gates", root / "data/mta/gates/mta_neutral.json", "--timing", timing / "mta_stage2_neutral.json",
                      *placed, "--cfg", _cfg(*COMMON, "mta.stage2", "mta.ablations.neutral_gate")])
    for method in BASELINES:
        stage(f"mta_baseline-{method}")
        _run(mta_baseline, ["--method", method, *feats, *(s1 if method == "fusion" else []),
                            "--preds", root / f"data/mta/preds/{method}.parquet",
                            "--runs", root / f"data/mta/runs/{method}.json",
                            "--timing", timing / f"mta_baseline-{method}.json", *placed,
                            "--cfg", _cfg(*COMMON, f"mta.baselines.{method}")])
    methods = ["adapters", "mta", "mta_neutral", *BASELINES]
    _run(mta_eval, ["--preds", *(root / f"data/mta/preds/{m}.parquet" for m in methods),
                    "--runs", *(root / f"data/mta/runs/{m}.json" for m in methods),
                    "--gates", *(root / f"data/mta/gates/{m}.json" for m in ("mta", "mta_neutral")),
                    "--gates-out", root / "reports/mta/gates.json", "--gates-figure", root / "reports/mta/gates.png",
                    "--scores", root / "reports/metrics/mta/scores.json", "--per-seed", root / "data/mta/scores.parquet",
                    "--runs-out", root / "reports/mta/runs.json", "--table", root / "reports/mta/table.md",
                    "--figure", root / "reports/mta/tasks.png", *placed, "--cfg", _cfg(*COMMON)])


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    """Two identical runs (a, b) in one repo root; the Inputs.logits reads of run a."""
    from lmrepro.data.nlu import NluConfig, build_nlu
    from lmrepro.data.schemas import NluExamples
    from lmrepro.mta.train import Inputs

    root = tmp_path_factory.mktemp("mta-smoke")
    shutil.copytree(REPO / "workflow" / "schemas" / "params", root / "workflow" / "schemas" / "params")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    table = root / "tasks.parquet"
    tasks = tuple(SMOKE["mta"]["data"]["tasks"])
    io.write_table(build_nlu(shared_data / "nlu", NluConfig(tasks, 0, 0.1, 0.1)), table, NluExamples)
    reads = Reads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LMREPRO_ROOT", str(root))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        with pytest.MonkeyPatch.context() as spy:
            spy.setattr(Inputs, "logits", reads.wrap(Inputs.logits))
            run_pipeline(root / "a", table, reads)
        run_pipeline(root / "b", table)
    return root, reads


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_runs_are_byte_identical_except_timing(runs):
    from lmrepro.mta import report

    root, _ = runs
    a, b = _files(root / "a"), _files(root / "b")
    assert a.keys() == b.keys()
    timing = {k for k in a if k.startswith("reports/mta/timing/")}
    assert timing == {f"reports/mta/timing/{s}.json" for s in ("mta_placement", "mta_features", *TRAINING)}
    differ = sorted(k for k in a.keys() - timing if a[k].read_bytes() != b[k].read_bytes())
    assert not differ, f"outputs differ between identical runs: {differ}"
    for k in timing:  # the wall times are there, and only there
        rec = io.read_json(a[k])
        assert rec["seconds"] > 0 and rec["threads"] == 1
    runs_json = (root / "a/reports/mta/runs.json").read_text() + (root / "a/reports/mta/table.md").read_text()
    assert "seconds" not in runs_json and "Time" not in runs_json
    assert "Time (s)" not in report.render(root / "a")  # results.md carries no wall time
    untabled = {"reports/mta/timing/mta_features.json", "reports/mta/timing/mta_placement.json"}
    timing = report.render_timing(root / "a", sorted(Path(k) for k in timing - untabled))
    assert "| Time (s) |" in timing  # reports/timing.md takes it from the timing files


def test_training_stages_log_curves_to_mlflow(runs):
    from mlflow.tracking import MlflowClient

    root, _ = runs
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("lmrepro-mta")
    found = client.search_runs([exp.experiment_id], max_results=100)
    seed = SMOKE["mta"]["seeds"][0]
    by_name = defaultdict(list)
    for r in found:
        if "lmrepro.stage" in r.data.tags:  # stage runs, not their invocation's parent runs
            by_name[tracking.run_label(r.data.tags)].append(r)
    for stage in TRAINING:
        name = stage.replace("mta_baseline-", "mta_baseline[method=") + ("]" if "baseline" in stage else "")
        name = {"mta_stage2": "mta_stage2[method=mta]", "mta_stage2_neutral": "mta_stage2[method=mta_neutral]"}.get(
            stage, name)
        assert len(by_name[name]) == 2, sorted(by_name)  # runs a and b
        for r in by_name[name]:
            keys = set(r.data.metrics)
            loss_keys = sorted(k for k in keys if k.startswith("train/loss") and k.endswith(f"/seed{seed}"))
            valid_keys = sorted(k for k in keys if k.startswith("valid/score") and k.endswith(f"/seed{seed}"))
            assert loss_keys and len(loss_keys) == len(valid_keys), (stage, sorted(keys))
            runs_file = io.read_json(root / "a" / "data/mta/runs" / f"{_method(stage)}.json")
            record = runs_file["runs"][0]
            # the float path this CPU resolved mta.precision to: tagged in MLflow and in the run records
            used = precision.resolve(SMOKE["mta"]["precision"])
            assert r.data.tags["mta.precision"] == runs_file["precision"] == used, stage
            steps = record["stages"][-1]["steps"]
            loss = [client.get_metric_history(r.info.run_id, k) for k in loss_keys]
            # one point per optimizer step of every learning-rate candidate (same batches each)
            choices = record["choices"]
            n_cand = len(SMOKE["mta"]["search"]["lr_scales"])
            assert n_cand >= 2 and all(len(c["candidates"]) == n_cand for c in choices)
            assert sum(len(h) for h in loss) == steps * n_cand
            for c in choices:  # every choice is in MLflow: the rate, the epoch, each candidate's score
                assert client.get_metric_history(r.info.run_id, f"select/lr/{c['unit']}")[0].value == \
                    pytest.approx(c["lr"])
                assert {f"select/valid/{c['unit']}/lr{lr}" for lr in c["candidates"]} <= keys
                assert c["candidates"][f"{c['lr']:g}"] == max(c["candidates"].values()) == c["valid"]
            for h in loss:
                assert [m.step for m in h] == list(range(1, len(h) + 1))
                assert all(np.isfinite(m.value) and m.value > 0 for m in h)
            for k in valid_keys:  # smoke trains one epoch: one validation point per curve
                h = client.get_metric_history(r.info.run_id, k)
                assert [m.step for m in h] == [1] and 0.0 <= h[0].value <= 1.0
            final = client.get_metric_history(r.info.run_id, f"final/valid_score/seed{seed}")
            assert len(final) == 1 and final[0].value == pytest.approx(record["valid_score"])
            datasets = {i.dataset.name for i in r.inputs.dataset_inputs}
            assert {"examples.parquet", "tokens.safetensors"} <= datasets
            assert [f.path for f in client.list_artifacts(r.info.run_id, "predictions")], (stage, "no predictions")
            models = client.search_logged_models([exp.experiment_id], filter_string=f"source_run_id = '{r.info.run_id}'")
            assert len(models) == (1 if stage in ("mta_stage1", "mta_stage2") else 0), stage


def _method(stage: str) -> str:
    return {"mta_stage1": "adapters", "mta_stage2": "mta", "mta_stage2_neutral": "mta_neutral"}.get(
        stage, stage.removeprefix("mta_baseline-"))


def test_no_test_row_is_read_before_training_ends(runs):
    root, reads = runs
    examples = pd.read_parquet(root / "a/data/mta/examples.parquet")
    split = examples["split"].to_numpy()
    by_model = defaultdict(list)
    for stage, model, training, rows in reads.events:
        by_model[(stage, model)].append((training, set(split[rows])))
    assert {stage for stage, _ in by_model} == {"mta_placement", *TRAINING}
    placement_reads = set().union(*(s for (st, _), ev in by_model.items() if st == "mta_placement" for _, s in ev))
    assert placement_reads == {"train", "valid"}  # the placement is chosen without a test row
    for (stage, _), events in by_model.items():
        trained = [i for i, (training, _) in enumerate(events) if training]
        for i in trained:
            assert events[i][1] == {"train"}, f"{stage}: a training step read {events[i][1]} rows"
        read_test = [i for i, (_, s) in enumerate(events) if "test" in s]
        if trained and read_test:
            assert min(read_test) > max(trained), f"{stage}: test rows read before training ended"
        for _, s in events:
            assert len(s) == 1, f"{stage}: one batch mixed splits {s}"
    # every training stage validated on valid rows and predicted the test rows
    for stage in TRAINING:
        seen = set().union(*(s for (st, _), ev in by_model.items() if st == stage for _, s in ev))
        assert seen == {"train", "valid", "test"}, (stage, seen)


def test_stage2_gates_neutral_start_and_bundle(runs):
    """Stage 2 records its gates: MTA starts where stage 1 left them (gate_init_own on the own
    adapter), the neutral run starts uniform and moves; the bundle holds the first seed's
    end gates; the neutral predictions pair with MTA's for the claims engine."""
    from safetensors.torch import load_file

    from lmrepro.mta import gates
    from lmrepro.mta import outcomes

    root, _ = runs
    mix = SMOKE["mta"]["mixture"]
    tasks = SMOKE["mta"]["data"]["tasks"]
    k = len(tasks) + mix["n_shared"]
    own = np.exp(mix["gate_init_own"] / mix["temperature"])
    own = own / (own + k - 1)
    mta = gates.read(root / "a/data/mta/gates/mta.json")
    neutral = gates.read(root / "a/data/mta/gates/mta_neutral.json")
    assert [r["seed"] for r in neutral["runs"]] == SMOKE["mta"]["seeds"] and neutral["experts"][:len(tasks)] == tasks
    for rec_mta, rec_neutral in zip(mta["runs"], neutral["runs"]):
        for block, start in rec_neutral["start"].items():
            start, end = np.asarray(start), np.asarray(rec_neutral["end"][block])
            assert start.shape == (len(tasks), k) and (start == start[0, 0]).all()  # equal weights at step 0
            assert start[0, 0] == pytest.approx(1 / k)
            assert np.abs(end - start).max() > 1e-4, "the neutral gates did not move in training"
            assert np.allclose(np.diag(np.asarray(rec_mta["start"][block])), own, atol=1e-6)
    weights = load_file(str(root / "a/models/mta/mta/model.safetensors"))
    for block, end in mta["runs"][0]["end"].items():
        logits = weights[f"adapters.{block}.gate_logits"].double()
        assert np.allclose(torch.softmax(logits / mix["temperature"], dim=-1).numpy(), end, atol=1e-6)
    load = outcomes.loader(root / "a")
    a, b = load({"method": "mta_neutral"}, "accuracy"), load({"method": "mta"}, "accuracy")
    assert a.values.shape == b.values.shape  # same seeds and test rows, in the same order
    assert np.array_equal(a.units, b.units) and np.array_equal(a.strata, b.strata)
    summary = io.read_json(root / "a/reports/metrics/mta/scores.json")
    assert set(summary["stage2_change"]) == {"mta", "mta_neutral"}
    assert (root / "a/reports/mta/gates.png").stat().st_size > 10_000


def test_the_comparison_trains_at_the_placement_validation_chose(runs):
    """Smoke sets mta.mixture.blocks: chosen: the placement stage's choice is the block count
    every adapter stage trained at (the feature cache's key names its split point, and the
    stages refuse a cache split elsewhere) and the one the report states."""
    from safetensors.torch import load_file

    from lmrepro.mta.backbone import backbone_digest, resolve_backbone
    from lmrepro.mta.data import Encoded
    from lmrepro.mta.features import cache_key, load_features

    root, _ = runs
    assert SMOKE["mta"]["mixture"]["blocks"] == "chosen"
    record = io.read_json(root / "a/data/mta/placement.json")
    assert record["blocks_setting"] == "chosen" and record["used"] == record["chosen"]
    assert str(record["chosen"]) in record["candidates"]
    assert io.read_json(root / "a/reports/metrics/mta/scores.json")["scale"]["blocks"] == record["chosen"]
    encoded = Encoded.from_tensors(load_file(str(root / "a/data/mta/tokens.safetensors")))
    first_adapted = 6 - record["chosen"]  # all-MiniLM-L6-v2 has 6 blocks
    key = cache_key(backbone_digest(resolve_backbone(SMOKE["mta"]["backbone"])), encoded.digest(), first_adapted)
    load_features(root / "a/data/mta/features.safetensors", key)  # raises unless split at the chosen block
    assert "mta.mixture.blocks: chosen" in (root / "a/reports/mta/table.md").read_text()
