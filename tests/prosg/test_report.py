import json

from lmrepro.prosg.report import render


def _write(root, none_acc, prosg_correct, prosg_far=None):
    prosg_far = none_acc[1] if prosg_far is None else prosg_far

    def cell(near, far):
        return {"0": [near - 0.05, near + 0.05], "64": [far - 0.05, far + 0.05]}

    m = {
        "oracle_lr": 1.0,
        "accuracy": {"none": {"0": none_acc[0], "64": none_acc[1]}, "prosg": {"0": none_acc[0], "64": prosg_far},
                     "prosg_sg": {"0": none_acc[0], "64": none_acc[1]}},
        "ci": {"none": cell(*none_acc), "prosg": cell(none_acc[0], prosg_far), "prosg_sg": cell(*none_acc)},
        "with_filler": {m: {"correct": c, "n": 200} for m, c in
                        {"none": 20, "prosg": prosg_correct, "prosg_sg": 20, "random": 20, "oracle": 30,
                         "repeat": 150}.items()},
    }
    (root / "reports" / "metrics" / "prosg").mkdir(parents=True, exist_ok=True)
    (root / "reports" / "metrics" / "prosg" / "eval.json").write_text(json.dumps(m))


def test_render_states_interpretation_and_numbers_without_verdicts(tmp_path):
    assert render(tmp_path) == ""  # nothing evaluated yet: no section
    _write(tmp_path, (0.9, 0.2), prosg_correct=120, prosg_far=0.5)
    text = render(tmp_path)
    assert "our interpretation" in text
    assert "Base accuracy 0.90 [0.85, 0.95] at distance 0 vs 0.20 [0.15, 0.25] at 64" in text
    far = next(line for line in text.splitlines() if "end-to-end ProSG" in line)
    assert "At the longest distance (64 words): 0.50 [0.45, 0.55] vs 0.20 [0.15, 0.25]." in far
    # verdicts belong to the claims engine (Verdicts section), never to this prose
    for word in ("supported", "contradicted", "inconclusive"):
        assert word not in text


def test_costs_come_from_the_timing_files_only(tmp_path):
    _write(tmp_path, (0.9, 0.2), prosg_correct=120)
    assert "Cost (wall-clock" not in render(tmp_path) and "Training wall-clock" not in render(tmp_path)
    timing = tmp_path / "reports" / "prosg" / "timing"
    timing.mkdir(parents=True)
    (timing / "eval_prosg.json").write_text(json.dumps(
        {"relative_to_no_update": {"prosg": 1.5, "oracle": 3.25, "repeat": 1.75}}))
    (timing / "pretrain_rnn.json").write_text(json.dumps(
        {"seconds": 240.4, "steps_per_second": 3.33, "device": "cpu", "threads": 2}))
    text = render(tmp_path)
    assert "ProSG 1.50x, oracle 3.25x" in text and "prompt repeated 1.75x" in text
    assert "pretrain_rnn 240 s (3.33 steps/s, cpu, 2 threads)" in text
