import json

from lmrepro.prosg.report import _verdict, render


def _write(root, none_acc, prosg_correct):
    m = {
        "oracle_lr": 1.0,
        "accuracy": {"none": {"0": none_acc[0], "64": none_acc[1]}},
        "ci": {"none": {"0": [none_acc[0] - 0.05, none_acc[0] + 0.05], "64": [none_acc[1] - 0.05, none_acc[1] + 0.05]}},
        "with_filler": {m: {"correct": c, "n": 200} for m, c in
                        {"none": 20, "prosg": prosg_correct, "prosg_sg": 20, "random": 20, "oracle": 30,
                         "repeat": 150}.items()},
    }
    (root / "reports" / "metrics" / "prosg").mkdir(parents=True, exist_ok=True)
    (root / "reports" / "metrics" / "prosg" / "eval.json").write_text(json.dumps(m))


def test_verdicts():
    assert _verdict((0.6, 0.8), (0.1, 0.3)) == "supported"
    assert _verdict((0.1, 0.3), (0.6, 0.8)) == "contradicted"
    assert _verdict((0.2, 0.5), (0.3, 0.6)).startswith("inconclusive")


def test_render_states_interpretation_and_verdicts(tmp_path):
    assert render(tmp_path) == ""  # nothing evaluated yet: no section
    _write(tmp_path, (0.9, 0.2), prosg_correct=120)
    text = render(tmp_path)
    assert "our interpretation" in text
    assert "forgets the prompt" in text and "**supported**" in text
    _write(tmp_path, (0.5, 0.5), prosg_correct=20)
    text = render(tmp_path)
    assert "**supported**" not in text
