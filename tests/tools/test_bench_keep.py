"""make bench --only T --keep-others: T's rows re-measured, every other track's rows kept
from the existing file (each row is a ratio measured in its own run)."""

from lmrepro.measure import BenchResult
from lmrepro.tools import bench


def _fake(track, value):
    return lambda quick=False: [BenchResult(track, f"{track} thing", value, 1.0, "s", 1.0, higher_is_better=True)]


def test_only_one_track_keeps_the_others(tmp_path, monkeypatch):
    out = tmp_path / "benchmarks.md"
    monkeypatch.setattr(bench, "_track_benches", lambda: {"rec": _fake("rec", 2.0), "mta": _fake("mta", 3.0),
                                                        "prosg": _fake("prosg", 4.0), "edge": _fake("edge", 5.0)})
    assert bench.main(["--only", "rec", "mta", "--out", str(out)]) == 0
    assert "| rec | rec thing | 2 |" in out.read_text() and "| mta | mta thing | 3 |" in out.read_text()
    monkeypatch.setattr(bench, "_track_benches", lambda: {"rec": _fake("rec", 0.5)})
    assert bench.main(["--only", "rec", "--keep-others", "--out", str(out)]) == 1  # 0.5x fails its target
    text = out.read_text()
    assert "| rec | rec thing | 0.5 |" in text and "| rec | rec thing | 2 |" not in text  # re-measured
    assert "| mta | mta thing | 3 |" in text  # kept
    assert "Rows of rec: this run" in text
    assert bench.kept_rows(tmp_path / "absent.md", {"rec"}) == []


def test_keep_others_needs_only(tmp_path):
    import pytest

    with pytest.raises(SystemExit, match="needs --only"):
        bench.main(["--keep-others", "--out", str(tmp_path / "b.md")])
    assert not (tmp_path / "b.md").exists()
