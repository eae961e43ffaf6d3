import json
from pathlib import Path

import pytest

from lmrepro.errors import LmreproError
from lmrepro.prosg.report import render, render_timing


def _write(root, none_acc, prosg_filler, prosg_far=None):
    prosg_far = none_acc[1] if prosg_far is None else prosg_far

    def cell(near, far):
        return {"0": [near - 0.05, near + 0.05], "64": [far - 0.05, far + 0.05]}

    acc = {"none": (none_acc[0], none_acc[1]), "prosg": (none_acc[0], prosg_far), "prosg_sg": none_acc,
           "prosg_other": (none_acc[0], 0.3), "prosg_shuffled": (none_acc[0], 0.25), "random": none_acc}
    m = {
        "seeds": [7, 8, 9],
        "items_per_distance": {"0": 450, "64": 450},
        "oracle_lr": {"7": 1.0, "8": 10.0, "9": 1.0},
        "sg_eta": {"7": 100.0, "8": 10.0, "9": 100.0},
        "valid_items": 60,
        "accuracy": {k: {"0": v[0], "64": v[1]} for k, v in acc.items()},
        "ci": {k: cell(*v) for k, v in acc.items()},
        "with_filler": {m: {"mean": c, "ci": [c - 0.04, c + 0.04], "n": 900, "seeds": 3} for m, c in
                        {"none": 0.1, "prosg": prosg_filler, "prosg_sg": 0.1, "random": 0.1, "oracle": 0.15,
                         "repeat": 0.75, "prosg_other": 0.2, "prosg_shuffled": 0.2}.items()},
    }
    (root / "reports" / "metrics" / "prosg").mkdir(parents=True, exist_ok=True)
    (root / "reports" / "metrics" / "prosg" / "eval.json").write_text(json.dumps(m))


def test_render_states_interpretation_and_numbers_without_verdicts(tmp_path):
    assert render(tmp_path) == ""  # nothing evaluated yet: no section
    _write(tmp_path, (0.9, 0.2), prosg_filler=0.6, prosg_far=0.5)
    text = render(tmp_path)
    assert "our interpretation" in text
    assert "Base accuracy 0.90 [0.85, 0.95] at distance 0 vs 0.20 [0.15, 0.25] at 64" in text
    far = next(line for line in text.splitlines() if "end-to-end ProSG" in line)
    assert "At the longest distance (64 words): 0.50 [0.45, 0.55] vs 0.20 [0.15, 0.25]." in far
    assert "With filler (distance > 0, pooled): 0.60 [0.56, 0.64] vs no update 0.10 [0.06, 0.14]" in far
    assert "3 paired seeds" in text and "(450 items per distance, all kinds)" in text
    controls = next(line for line in text.splitlines() if "**Controls**" in line)
    assert "another test prompt's states (same kind) 0.30 [0.25, 0.35]" in controls
    assert "shuffled prompt states 0.25 [0.20, 0.30]" in controls
    assert "on valid, 60 items: 1, 10)" in text
    assert "gradient regression (its test-time step size eta picked per seed on valid, as the oracle's: 10, 100)" in text
    # verdicts belong to the claims engine (Verdicts section), never to this prose
    for word in ("supported", "contradicted", "inconclusive"):
        assert word not in text


def test_costs_come_from_the_timing_files_only_into_the_timing_page(tmp_path):
    _write(tmp_path, (0.9, 0.2), prosg_filler=0.6)
    before = render(tmp_path)
    timing = tmp_path / "reports" / "prosg" / "timing"
    timing.mkdir(parents=True)
    (timing / "eval_prosg-s7.json").write_text(json.dumps(
        {"relative_to_no_update": {"prosg": 1.5, "oracle": 3.25, "repeat": 1.75}}))
    (timing / "pretrain_rnn.json").write_text(json.dumps(
        {"seconds": 240.4, "steps_per_second": 3.33, "device": "cpu", "threads": 2}))
    assert render(tmp_path) == before  # results.md carries no wall-clock
    assert "wall-clock" not in before and "Cost" not in before
    text = render_timing(tmp_path, [Path("reports/prosg/timing/pretrain_rnn.json"),
                                    Path("reports/prosg/timing/eval_prosg-s7.json")])
    assert "ProSG 1.50x, oracle 3.25x" in text and "prompt repeated 1.75x" in text
    assert "pretrain_rnn: 240 s (3.33 steps/s, cpu, 2 threads)" in text
    assert text.index("eval_prosg") < text.index("pretrain_rnn")
    (timing / "pretrain_rnn.json").write_text(json.dumps({"seconds": 1.0}))
    with pytest.raises(LmreproError, match="pretrain_rnn.json: not a ProSG timing file"):
        render_timing(tmp_path, [Path("reports/prosg/timing/pretrain_rnn.json")])


def test_tuning_record_names_the_split_and_the_choice(tmp_path):
    _write(tmp_path, (0.9, 0.2), prosg_filler=0.6)
    assert "Tuning record" not in render(tmp_path)  # no trials, no record
    metrics = tmp_path / "reports" / "metrics" / "prosg"
    for family, lr, scores in (("main", 0.001, [0.3, 0.4]), ("main", 0.002, [0.45, 0.35]), ("sg", 0.001, [0.2, 0.25])):
        (metrics / f"tune-{family}-lr{lr:g}.json").write_text(json.dumps(
            {"variant": family, "lr": lr, "seed": 7, "split": "valid", "valid_items": 60,
             "curve": [{"steps": 50 * (i + 1), "valid_accuracy": a} for i, a in enumerate(scores)]}))
    text = render(tmp_path)
    assert "chosen on the valid split (60 items, every kind and distance) with the base of seed 7" in text
    assert "*main* (chosen: lr 0.002, 50 steps). At the search's edge (its lr is the largest tried): a wider" in text
    assert "| 0.002 | **0.450** | 0.350 |" in text
    assert "*sg* (chosen: lr 0.001, 100 steps). At the search's edge (its steps are the most tried)" in text
    assert "| 0.001 | 0.200 | **0.250** |" in text
    timing = tmp_path / "reports" / "prosg" / "timing"
    timing.mkdir(parents=True)
    (timing / "tune_prosg-main-lr0.002.json").write_text(json.dumps(
        {"seconds": 250.2, "scoring_seconds": 30.4, "steps": 400, "device": "cpu", "threads": 1}))
    assert "tune_prosg-main-lr0.002: 250 s for 400 steps, of which 30 s scoring the valid split" in render_timing(
        tmp_path, [Path("reports/prosg/timing/tune_prosg-main-lr0.002.json")])
