import json

from lmrepro import tracking
from lmrepro.evaluate.provenance import latest_writers, provenance_section


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
