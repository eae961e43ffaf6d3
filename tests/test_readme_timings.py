"""The README's wall-time table stays in step with the benchmark record it quotes."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _bench_seconds(label: str) -> float:
    for line in (REPO / "reports" / "benchmarks.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 3 and cells[0] == "pipeline" and cells[1] == label:
            return float(cells[2])
    raise AssertionError(f"reports/benchmarks.md has no 'pipeline | {label}' row")


def test_readme_smoke_time_is_the_benchmarked_one():
    readme = (REPO / "README.md").read_text()
    row = next((line for line in readme.splitlines() if line.startswith("| smoke DAG")), None)
    assert row is not None, "README: the wall-time table lost its smoke DAG row"
    quoted = re.search(r"\|\s*(\d[\d,]*)\s*s\b[^|]*\|\s*$", row)
    assert quoted, row
    measured = _bench_seconds("smoke DAG, full run")
    assert abs(float(quoted.group(1).replace(",", "")) - measured) <= 0.5, (row, measured)


def test_readme_has_no_placeholder_timings():
    readme = (REPO / "README.md").read_text()
    assert not re.search(r"\b[A-Z]+_WALL\b|TODO|TBD", readme), "README timing table not filled in"
