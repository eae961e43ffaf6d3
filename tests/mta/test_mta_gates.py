"""Stage 2 made visible: gate records (mta/gates.py), the neutral gate start, and what
mta_eval and the report make of them (the per-task stage-2 change and the gate figure)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lmrepro import config, io
from lmrepro.errors import LmreproError
from lmrepro.mta import gates, methods, report
from lmrepro.mta.scoring import paired_change, score
from lmrepro.mta.mixture import MixtureConfig, MixtureOfTaskAdapters
from lmrepro.mta.schemas import Predictions
from tests.conftest import REPO

TASKS = ["sst2", "cola", "msrp"]
SEEDS = [0, 1]


class TinyBundle(nn.Module):
    """What the gate helpers read from a bundle's model: ``adapters`` {block: mixture}."""

    def __init__(self, cfg: MixtureConfig, blocks=("5",)) -> None:
        super().__init__()
        self.adapters = nn.ModuleDict({b: MixtureOfTaskAdapters(8, TASKS, cfg) for b in blocks})


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def test_default_start_is_own_adapter_and_neutral_start_is_uniform():
    cfg = MixtureConfig(bottleneck=4, n_shared=1, temperature=0.1, gate_init_own=0.5)
    model = TinyBundle(cfg)
    k = len(TASKS) + 1
    own = _softmax(np.r_[5.0, np.zeros(k - 1)])[0]  # logit 0.5 / temperature 0.1
    w = np.asarray(gates.weights(model)["5"])
    assert w.shape == (len(TASKS), k) and np.allclose(np.diag(w), own) and gates.own_weight(w) == pytest.approx(own)
    assert gates.expert_names(model) == [*TASKS, "shared1"]
    adapters_before = {n: p.clone() for n, p in model.named_parameters() if "gate_logits" not in n}
    gates.restart(model, gates.GateStart(0.0))
    w = np.asarray(gates.weights(model)["5"])
    assert np.array_equal(w, np.full((len(TASKS), k), 1 / k))  # exactly equal: every logit is 0
    assert all(torch.equal(p, adapters_before[n]) for n, p in model.named_parameters() if "gate_logits" not in n)
    gates.restart(model, gates.GateStart(0.5))  # the same pattern as the mixture's own initialisation
    assert torch.equal(model.adapters["5"].gate_logits, TinyBundle(cfg).adapters["5"].gate_logits)
    with pytest.raises(LmreproError, match="finite"):
        gates.GateStart(float("nan"))
    with pytest.raises(LmreproError, match="no mixture of task adapters"):
        gates.weights(nn.Linear(2, 2))


def _record(method: str, cfg: MixtureConfig, seeds=SEEDS, blocks=("5",)) -> dict:
    """A gate record as stage 2 writes it: a start, then per seed some trained logits."""
    runs = []
    for seed in seeds:
        model = TinyBundle(cfg, blocks)
        if method == gates.NEUTRAL:
            gates.restart(model, gates.GateStart(0.0))
        start = gates.weights(model)
        with torch.no_grad():
            g = torch.Generator().manual_seed(seed)
            for mix in model.adapters.values():
                mix.gate_logits.add_(0.1 * torch.randn(mix.gate_logits.shape, generator=g))
        runs.append({"seed": seed, "start": start, "end": gates.weights(model)})
    return gates.record(method, model, runs)


def test_record_round_trip_mean_and_errors(tmp_path):
    cfg = MixtureConfig(bottleneck=4, n_shared=2, temperature=0.1)
    rec = _record("mta", cfg, blocks=("4", "5"))
    gates.write(rec, tmp_path / "mta.json")
    back = gates.read(tmp_path / "mta.json")
    assert back == json.loads(json.dumps(rec))
    mean = gates.mean_over_seeds(back)
    assert mean["seeds"] == SEEDS and sorted(mean["blocks"]) == ["4", "5"]
    want = np.mean([np.asarray(r["end"]["4"]) for r in rec["runs"]], axis=0)
    assert np.allclose(mean["blocks"]["4"]["end"], want)
    assert gates.largest_change(mean) > 0
    bad = json.loads(json.dumps(rec))
    bad["runs"][1]["end"]["5"][0][1] += 0.3  # a row that no longer sums to 1
    with pytest.raises(LmreproError, match=r"bad\.json: runs\[1\]\.end\[5\]: .*sum to 1"):
        gates.check(bad, "bad.json")
    bad = json.loads(json.dumps(rec))
    bad["runs"][0]["start"]["5"] = bad["runs"][0]["start"]["5"][:2]
    with pytest.raises(LmreproError, match=r"runs\[0\]\.start\[5\]: shape \(2, 5\), expected \(3, 5\)"):
        gates.check(bad, "bad.json")
    with pytest.raises(LmreproError, match="missing key 'experts'"):
        gates.check({k: v for k, v in rec.items() if k != "experts"}, "bad.json")
    with pytest.raises(LmreproError, match="gate record missing"):
        gates.read(tmp_path / "nothing.json")


def test_neutral_stage2_starts_uniform_and_moves(fresh_encoder, tiny_table, backbone):
    """At smoke size (two tasks, a few steps): the neutral start is uniform at step 0 and
    training moves the gates, while task adapters and heads keep their stage-1 values."""
    from lmrepro.mta.data import DataConfig, encode, select_examples
    from lmrepro.mta.train import Inputs, TrainConfig

    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=12, n_test=4, max_len=16))
    data = methods.Task.from_examples(examples)
    inputs = Inputs(encode(examples, backbone[1], 16))
    mix = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1, gate_init_own=0.5)
    s1 = methods.stage1(fresh_encoder, data, inputs, mix, TrainConfig(epochs=1, batch_size=4, lr=1e-2), seed=0)
    assert gates.own_weight(gates.weights(s1.model)["5"]) == pytest.approx(_softmax(np.r_[5.0, 0, 0])[0])
    gates.restart(s1.model, gates.GateStart(0.0))
    start = np.asarray(gates.weights(s1.model)["5"])
    assert start.shape == (2, 3) and (start == start[0, 0]).all() and start[0, 0] == pytest.approx(1 / 3)
    frozen = {n: p.detach().clone() for n, p in s1.model.named_parameters()
              if ".task_adapters." in n or n.startswith("heads.")}
    s2 = methods.stage2(s1.model, data, inputs, methods.Stage2Config(epochs=1, batch_size=4, lr=1e-3), seed=0)
    end = np.asarray(gates.weights(s2.model)["5"])
    assert np.abs(end - start).max() > 1e-3, "stage 2 did not move the neutral gates"
    assert np.allclose(end.sum(axis=1), 1.0)
    assert all(torch.equal(p, frozen[n]) for n, p in s2.model.named_parameters() if n in frozen)


def _preds(method: str, seed: int, share: float, rng) -> pd.DataFrame:
    rows = []
    for task in TASKS:
        labels = rng.integers(0, 2, 100)
        preds = np.where(rng.random(100) < share, labels, 1 - labels)
        rows.append(pd.DataFrame({"method": method, "seed": seed, "task": task, "row": np.arange(100),
                                  "label": labels, "pred": preds}))
    return pd.concat(rows, ignore_index=True)


def _eval_inputs(root: Path) -> tuple[list[str], dict]:
    """Predictions, run records, timing and gate files of adapters, mta and mta_neutral."""
    rng = np.random.default_rng(0)
    quality = {"adapters": 0.7, "mta": 0.72, gates.NEUTRAL: 0.8}
    preds = {m: pd.concat([_preds(m, s, q, rng) for s in SEEDS]) for m, q in quality.items()}
    stages = {"adapters": [], "mta": ["stage2"], gates.NEUTRAL: ["stage2_neutral"]}
    cfg = MixtureConfig(bottleneck=4, n_shared=1, temperature=0.1)
    argv = {"--preds": [], "--runs": [], "--gates": []}
    for m in quality:
        io.write_table(preds[m], root / f"data/mta/preds/{m}.parquet", Predictions)
        io.write_json({"method": m, "runs": [
            {"seed": s, "total": 1000, "valid_score": 0.5,
             "stages": [{"name": n, "trainable": 10, "steps": 3} for n in ("stage1", *stages[m])]} for s in SEEDS]},
            root / f"data/mta/runs/{m}.json")
        argv["--preds"].append(root / f"data/mta/preds/{m}.parquet")
        argv["--runs"].append(root / f"data/mta/runs/{m}.json")
        if m in gates.RUNS:
            gates.write(_record(m, cfg), root / f"data/mta/gates/{m}.json")
            argv["--gates"].append(root / f"data/mta/gates/{m}.json")
    for stage, name in (("mta_stage1", "stage1"), ("mta_stage2", "stage2"), ("mta_stage2_neutral", "stage2_neutral")):
        io.write_json({"stage": stage, "runs": [{"seed": s, "name": name, "seconds": 4.0} for s in SEEDS]},
                      root / f"reports/mta/timing/{stage}.json")
    params = config.load_params(REPO / "params.yaml")
    cfg_keys = {k: config.get_key(params, k) for k in ("mta.backbone", "mta.data", "mta.mixture", "mta.seeds", "mta.search", "mta.precision")}
    cfg_keys["mta.data"] = {**cfg_keys["mta.data"], "tasks": TASKS}
    cfg_keys["mta.seeds"] = SEEDS
    cfg_keys["runtime"] = {**params["runtime"], "threads": 1, "device": "cpu", "amp": False}
    args = [a for k, paths in argv.items() for a in (k, *paths)]
    args += ["--scores", root / "reports/metrics/mta/scores.json", "--per-seed", root / "data/mta/scores.parquet",
             "--runs-out", root / "reports/mta/runs.json", "--table", root / "reports/mta/table.md",
             "--figure", root / "reports/mta/tasks.png", "--gates-out", root / "reports/mta/gates.json",
             "--gates-figure", root / "reports/mta/gates.png", "--cfg", json.dumps(cfg_keys)]
    return [str(a) for a in args], preds


def _run_eval(args) -> int:
    from lmrepro.stages import mta_eval

    with pytest.raises(SystemExit) as exit_:
        mta_eval.stage.run(args)
    return exit_.value.code


def test_mta_eval_draws_the_gates_and_reports_the_stage2_change(tmp_root):
    args, preds = _eval_inputs(tmp_root)
    assert _run_eval(args) == 0
    png = tmp_root / "reports/mta/gates.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    scores = io.read_json(tmp_root / "reports/metrics/mta/scores.json")
    per_seed = score(pd.concat(preds.values(), ignore_index=True)).set_index(["method", "seed", "task"])["score"]
    for m in gates.RUNS:  # paired by seed: the mean of per-seed differences
        got = scores["stage2_change"][m]
        for t in TASKS:
            diff = [per_seed[(m, s, t)] - per_seed[("adapters", s, t)] for s in SEEDS]
            assert got[t]["mean"] == pytest.approx(np.mean(diff)) and got[t]["std"] == pytest.approx(np.std(diff, ddof=1))
    means = io.read_json(tmp_root / "reports/mta/gates.json")
    assert set(means) == set(gates.RUNS)
    assert np.allclose(means[gates.NEUTRAL]["blocks"]["5"]["start"], 1 / 4)
    table = (tmp_root / "reports/mta/table.md").read_text()
    assert "| MTA, neutral gate start |" in table
    text = report.render(tmp_root)
    neutral = scores["stage2_change"][gates.NEUTRAL]
    row = next(line for line in text.splitlines() if line.startswith("| MTA, neutral gate start | +"))
    assert f"**{100 * neutral['macro']['mean']:+.1f} ± {100 * neutral['macro']['std']:.1f}**" in row
    assert "0.250 → " in row  # the neutral start: 1/4 on each of 3 task adapters + 1 shared
    assert "![gate weights at the start and end of stage 2](mta/gates.png)" in text
    # the ablation is not a baseline: MTA's differences to the other methods do not list it
    others = next(line for line in text.splitlines() if "Macro score of MTA minus each other method" in line)
    assert "Per-task adapters" in others and "neutral" not in others


def test_mta_eval_refuses_a_missing_gate_record(tmp_root):
    args, _ = _eval_inputs(tmp_root)
    i = args.index("--gates")
    args = args[: i + 1] + args[i + 2:]  # only the mta record, not mta_neutral's
    assert _run_eval(args) == 2
    assert not (tmp_root / "reports/mta/gates.png").exists()
    assert not (tmp_root / "reports/metrics/mta/scores.json").exists()  # no partial outputs


def test_paired_change_needs_the_same_seeds():
    rng = np.random.default_rng(1)
    scores = score(pd.concat([_preds("adapters", 0, 0.7, rng), _preds("mta", 1, 0.7, rng)]))
    with pytest.raises(LmreproError, match="same seeds"):
        paired_change(scores, TASKS, "mta", "adapters")
