"""The README keeps the evaluate stage's summary.md between its markers."""

from pathlib import Path

import pytest

from lmrepro.errors import LmreproError
from lmrepro.report import summary

def test_readme_sync_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{summary.START}\nold\n{summary.END}\nafter\n")
    assert summary.sync_readme(readme, "| new |\n")
    assert readme.read_text() == f"# x\n\nbefore\n{summary.START}\n| new |\n{summary.END}\nafter\n"
    assert not summary.sync_readme(readme, "| new |\n")  # idempotent
    assert summary.readme_block(readme) == "| new |\n"
    (tmp_path / "bare.md").write_text("# no markers\n")
    with pytest.raises(LmreproError, match="markers"):
        summary.sync_readme(tmp_path / "bare.md", "x")


def test_committed_readme_shows_the_committed_summary():
    """The README's results summary is the evaluate stage's output, not typed by hand."""
    root = Path(__file__).resolve().parents[2]
    committed = root / "reports" / "summary.md"
    if not committed.is_file():
        pytest.skip("no default-profile results committed yet")
    assert summary.readme_block(root / "README.md") == committed.read_text(), (
        "README results summary is stale: run `python -m lmrepro.report.summary`")
