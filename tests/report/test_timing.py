"""reports/timing.md: built from the declared timing files only, per track, with a clear
error for a broken file; results.md links it instead of carrying wall times."""

from pathlib import Path

import pytest

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.report.timing import per_run_note, render_timing, timing_files

STAMP = "Profile **smoke**, params hash `abc`, git commit `0123456789ab`."


def test_only_files_under_a_track_timing_folder_count(tmp_path):
    files = [Path("reports/rec/summary.json"), Path("reports/prosg/timing/eval_prosg.json"),
             tmp_path / "reports/rec/timing/beauty-sci-lightlm-direct.json", Path("reports/metrics/rec/x.json"),
             Path("reports/prosg/timing/eval_prosg.json"), Path("reports/edge/timing/robustness.txt")]
    assert timing_files(files, tmp_path) == {
        "prosg": [Path("reports/prosg/timing/eval_prosg.json")],
        "rec": [Path("reports/rec/timing/beauty-sci-lightlm-direct.json")],
    }


def test_page_has_a_section_per_track_and_a_generic_table(tmp_path):
    io.write_json({"train_seconds": 41.7, "latency_ms_per_user": 2.26, "curve": [0.1, 0.2]},
                  tmp_path / "reports/rec/timing/beauty-sci-lightlm-direct.json")
    io.write_json({"seconds": 12.345678, "threads": 1, "device": "cpu", "relative_to_no_update": {"prosg": 1.5},
                   "by_point": {f"p{i}": i for i in range(20)}, "steps": [1, 2, 3]},
                  tmp_path / "reports/toy/timing/stage.json")
    files = [tmp_path / "reports/rec/timing/beauty-sci-lightlm-direct.json", Path("reports/toy/timing/stage.json")]
    page = render_timing(tmp_path, files, STAMP)
    assert page.startswith("# lmrepro cost and timing\n") and STAMP in page
    assert page.index("## LightLM") < page.index("## toy")  # results.md's order, then other tracks
    assert "| beauty | sci | lightlm | direct | 42 | 2.3 |" in page  # the rec track's own table
    assert "| stage.json | seconds | 12.35 |" in page and "| stage.json | device | cpu |" in page
    assert "| stage.json | relative_to_no_update.prosg | 1.5 |" in page
    assert "| stage.json | by_point | (20 entries, see the file) |" in page
    assert "| stage.json | steps | (3 entries, see the file) |" in page


def test_no_timing_file_says_so(tmp_path):
    page = render_timing(tmp_path, [Path("reports/rec/summary.json")], STAMP)
    assert "No stage of this run wrote a timing file." in page and "## " not in page


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_a_broken_timing_file_is_named(tmp_path, content):
    path = tmp_path / "reports/toy/timing/stage.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(LmreproError, match="reports/toy/timing/stage.json"):
        render_timing(tmp_path, [Path("reports/toy/timing/stage.json")], STAMP)


def test_results_link_the_per_run_pages_relative_to_results_md():
    note = per_run_note(Path("reports/results.md"), Path("reports/timing.md"), Path("reports/provenance.md"))
    assert "[timing.md](timing.md)" in note and "[provenance.md](provenance.md)" in note
