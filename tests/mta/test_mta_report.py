"""Scoring, summary over seeds, and the report's table and verdicts on synthetic predictions."""

import json

import numpy as np
import pandas as pd
import pytest

from lmrepro.errors import LmreproError
from lmrepro.mta import report
from lmrepro.mta.scoring import paired_change, score, summarize
from lmrepro.mta.metrics import task_scores

TASKS = ["sst2", "cola", "msrp"]


def _preds(method, seed, correct_share, rng):
    rows = []
    for task in TASKS:
        labels = rng.integers(0, 2, 200)
        right = rng.random(200) < correct_share
        preds = np.where(right, labels, 1 - labels)
        rows.append(pd.DataFrame({"method": method, "seed": seed, "task": task, "row": np.arange(200),
                                  "label": labels, "pred": preds}))
    return pd.concat(rows)


def _runs(method):
    name = "stage1" if method in ("adapters", "mta") else method
    stages = [{"name": name, "trainable": 1000, "steps": 10}]
    if method == "mta":
        stages.append({"name": "stage2", "trainable": 100, "steps": 5})
    return [{"seed": s, "total": 10_000, "valid_score": 0.5, "stages": stages} for s in (0, 1, 2)]


def _write_timings(root, methods, seconds):
    """Timing files as the training stages write them (stage 2 takes a quarter of stage 1)."""
    files = {"mta_stage1": [("stage1", seconds)], "mta_stage2": [("stage2", seconds / 4)]}
    files |= {f"mta_baseline-{m}": [(m, seconds)] for m in methods if m not in ("adapters", "mta")}
    (root / "reports/mta/timing").mkdir(parents=True, exist_ok=True)
    for stage, runs in files.items():
        (root / f"reports/mta/timing/{stage}.json").write_text(json.dumps(
            {"stage": stage, "runs": [{"seed": s, "name": n, "seconds": t} for n, t in runs for s in (0, 1, 2)]}))


def test_task_scores_use_the_papers_metrics():
    y, p = np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1])
    assert task_scores("sst2", y, p)["score"] == 0.75
    cola = task_scores("cola", y, p)
    assert cola["score"] == cola["mcc"] and -1 <= cola["mcc"] <= 1
    msrp = task_scores("msrp", y, p)
    assert msrp["score"] == pytest.approx((msrp["f1"] + msrp["acc"]) / 2) and msrp["f1"] == pytest.approx(0.8)


def test_summary_and_report_without_verdicts(tmp_path):
    rng = np.random.default_rng(0)
    quality = {"mta": 0.9, "adapters": 0.7, "single_ft": 0.6, "joint": 0.65}
    preds = pd.concat([_preds(m, s, q, rng) for m, q in quality.items() for s in (0, 1, 2)])
    scores = score(preds)
    summary = summarize(scores, TASKS)
    assert summary["mta"]["seeds"] == 3 and summary["mta"]["macro"]["std"] > 0
    assert summary["mta"]["macro"]["mean"] > summary["adapters"]["macro"]["mean"]
    runs = {m: _runs(m) for m in quality}
    (tmp_path / "reports/metrics/mta").mkdir(parents=True)
    (tmp_path / "reports/mta").mkdir(parents=True)
    (tmp_path / "reports/metrics/mta/scores.json").write_text(json.dumps({
        "tasks": TASKS, "summary": summary, "stage2_change": {"mta": paired_change(scores, TASKS, "mta", "adapters")},
        "scale": {"backbone": "b", "blocks": 1, "bottleneck": 8, "n_shared": 1, "temperature": 0.1,
                  "n_train": 10, "n_test": 200, "max_len": 16, "seeds": [0, 1, 2]}}))
    (tmp_path / "reports/mta/runs.json").write_text(json.dumps(runs))
    experts = [*TASKS, "shared1"]
    start = [[0.94 if i == j else 0.02 for j in range(4)] for i in range(3)]
    end = [[0.90 if i == j else 0.01 if j < 3 else 0.08 for j in range(4)] for i in range(3)]
    (tmp_path / "reports/mta/gates.json").write_text(json.dumps({"mta": {
        "method": "mta", "tasks": TASKS, "experts": experts, "seeds": [0, 1, 2],
        "blocks": {"5": {"start": start, "end": end}}}}))
    text = report.render(tmp_path)  # results.md: no wall time, so identical runs give identical text
    assert "| MTA (two-stage) |" in text and "cola (MCC)" in text and "Time (s)" not in text
    assert "Stage 2 trains 0.1k parameters" in text and " s for stage 1" not in text
    assert "Verdict:" not in text and "supported" not in text  # verdicts come from the claims engine
    change = next(line for line in text.splitlines() if line.startswith("| MTA (two-stage) | +"))
    assert change.endswith("| 0.940 → 0.900 | 0.060 |")  # own weight start -> end, largest change (shared)
    timing_files = report.timing_files(list(quality))
    with pytest.raises(LmreproError, match="timing file missing"):
        report.render_timing(tmp_path, timing_files)  # reports/timing.md needs the stages' timing files
    _write_timings(tmp_path, quality, 10.0)
    timing = report.render_timing(tmp_path, timing_files)
    assert "| MTA (two-stage) | 1.1k | 12 | stage1 10, stage2 2.5 |" in timing  # seconds from the files
    assert "| Single-task full FT | 1.0k | 10 | single_ft 10 |" in timing
    # the table mta_eval writes has no wall time, so identical runs give identical files
    assert "Time" not in report.table(summary, runs, TASKS)


def test_summary_refuses_missing_tasks():
    preds = _preds("mta", 0, 0.9, np.random.default_rng(0))
    with pytest.raises(LmreproError, match="lack task"):
        summarize(score(preds[preds["task"] != "cola"]), TASKS)


def test_render_names_missing_inputs(tmp_path):
    with pytest.raises(LmreproError, match="mta_eval"):
        report.render(tmp_path)


def _choice(unit, lr, epoch, epochs, cands):
    return {"unit": unit, "lr": lr, "epoch": epoch, "epochs": epochs, "valid": max(cands.values()),
            "candidates": cands}


def test_selection_table_lists_every_choice():
    summary = {"adapters": {}, "mta": {}, "single_ft": {}}
    per_task = [_choice("sst2", 0.002, 6, 6, {"0.001": 0.7, "0.002": 0.8}),
                _choice("cola", 0.001, 2, 6, {"0.001": 0.1, "0.002": 0.05})]
    runs = {"adapters": [{"seed": 1, "choices": per_task}, {"seed": 2, "choices": per_task}],
            "mta": [{"seed": 1, "choices": [_choice("all", 0.001, 1, 2, {"0.001": 0.75, "0.002": 0.74})]}],
            "single_ft": [{"seed": 1, "stages": []}]}  # an older record without choices: left out
    text = report.selection_table(summary, runs)
    lines = text.splitlines()
    assert len(lines) == 4  # header, rule, adapters, mta
    assert "per task: 0.001 (cola); 0.002 (sst2)" in lines[2]
    assert "the last epoch in 2 of 4 runs" in lines[2] and "up to 6" in lines[2]
    assert "0.001 (0.001 75.0, 0.002 74.0)" in lines[3] and "the last epoch in 0 of 1 runs" in lines[3]
    assert report.selection_table(summary, {"single_ft": runs["single_ft"]}) == ""
