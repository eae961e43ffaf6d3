import json

from lmrepro import tracking
from lmrepro.report.provenance import latest_writers, provenance_section


def _run(root, name, outputs, status="FINISHED"):
    run = tracking.StageRun("data", name, name, root)
    run.start({}, {"lmrepro.stage": name})
    run.set_tags({"lmrepro.outputs": json.dumps([str(root / o) for o in outputs])})
    run.end(status)
    return run.run_id


def test_newest_finished_writer_of_each_file_is_linked(tmp_root):
    old = _run(tmp_root, "build_a", ["reports/metrics/a.json"])
    new = _run(tmp_root, "build_a", ["reports/metrics/a.json"])
    _run(tmp_root, "build_a", ["reports/metrics/a.json"], status="FAILED")
    other = _run(tmp_root, "build_b", ["reports/b.png"])
    writers = latest_writers(tmp_root)
    assert writers["reports/metrics/a.json"]["run_id"] == new != old
    text = provenance_section(tmp_root, [tmp_root / "reports/metrics/a.json", tmp_root / "reports/b.png", tmp_root / "reports/c.md"])
    assert new[:12] in text and other[:12] in text and old[:12] not in text
    assert "| reports/c.md | (no tracked run) | |" in text.replace(str(tmp_root) + "/", "")


def test_training_curves_come_from_the_writer_runs(tmp_root):
    from lmrepro.report.curves import curve_runs, plot_curves

    run = tracking.StageRun("prosg", "pretrain_rnn", "pretrain_rnn", tmp_root)
    run.start({}, {"lmrepro.stage": "pretrain_rnn", "lmrepro.track": "prosg"})
    for step in range(10):
        run.log_metrics({"loss_task": 5.0 / (step + 1), "accuracy": 0.1}, step=step)
    run.set_tags({"lmrepro.outputs": json.dumps([str(tmp_root / "models/prosg/base")])})
    run.end("FINISHED")
    curves = curve_runs(tmp_root)
    assert [(c["stage"], c["key"], len(c["points"])) for c in curves] == [("pretrain_rnn", "loss_task", 10)]
    out = tmp_root / "curves.png"
    plot_curves(curves, out)
    assert out.stat().st_size > 10_000
