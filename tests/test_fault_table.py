"""The fault table plugin (tests/faults.py) in a pytest run of its own: rows of passed tests
only, sorted by fault, written atomically, and nothing at all without LMREPRO_FAULT_TABLE."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO
from tests.faults import ENV, FaultRow, first_line, lost_summary, render

INNER_TESTS = '''
import pytest

def test_second(record_fault, tmp_path):
    record_fault("b fault", "inject | with a pipe", f"saw {tmp_path / 'x.txt'}", "no")

def test_first(record_fault):
    record_fault("A fault", "inject", "saw\\n  two lines", "yes: x")

def test_fails_after_recording(record_fault):
    record_fault("failed fault", "inject", "saw", "no")
    assert 1 == 2

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown fails")

def test_teardown_fails(record_fault, broken_teardown):
    record_fault("teardown fault", "inject", "saw", "no")

def test_skipped(record_fault):
    record_fault("skipped fault", "inject", "saw", "no")
    pytest.skip("not here")

@pytest.mark.xfail(reason="expected")
def test_xfails(record_fault):
    record_fault("xfail fault", "inject", "saw", "no")
    assert False
'''


def _inner_run(tmp_path: Path, table: Path | None) -> subprocess.CompletedProcess:
    project = tmp_path / "inner"
    project.mkdir(exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "conftest.py").write_text(
        "from tests.faults import pytest_runtest_makereport, pytest_sessionfinish, record_fault  # noqa: F401\n")
    (project / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "src")])
    if table is not None:
        env[ENV] = str(table)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
                           str(tmp_path / "basetemp"), "--rootdir", str(project), str(project)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_table_has_passed_tests_only_sorted_by_fault(tmp_path):
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    run = _inner_run(tmp_path, out_dir / "faults.md")
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 1 and "1 failed, 3 passed, 1 skipped, 1 xfailed, 1 error" in summary, run.stdout[-3000:]
    assert [p.name for p in out_dir.iterdir()] == ["faults.md"]  # no temporary left by the write
    lines = (out_dir / "faults.md").read_text().splitlines()
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| fault ")]
    assert lines[lines.index(next(row for row in lines if row.startswith("| fault "))) + 1] == "|---|---|---|---|---|"
    assert [row.split(" | ")[0] for row in rows] == ["| A fault", "| b fault"]
    assert rows[0] == "| A fault | inject | saw two lines | yes: x | `test_inner.py::test_first` |"
    # the pipe is escaped, and the test's own tmp folder is named $TMP, not a machine path
    assert rows[1] == r"| b fault | inject \| with a pipe | saw $TMP/x.txt | no | `test_inner.py::test_second` |"


def test_nothing_is_written_without_the_variable(tmp_path):
    run = _inner_run(tmp_path, None)
    assert "3 passed" in run.stdout, run.stdout[-3000:]
    written = [p for p in tmp_path.rglob("*.md")]
    assert written == []


def test_render_sorts_case_insensitively_and_helpers_report_what_was_seen():
    rows = [FaultRow("b", "i", "s", "no", "t::b"), FaultRow("A", "i", "s", "no", "t::a"), FaultRow("c", "i", "s", "no", "t::c")]
    body = [line for line in render(rows).splitlines() if line.startswith("| ") and not line.startswith("| fault ")]
    assert [line.split(" | ")[0] for line in body] == ["| A", "| b", "| c"]
    assert first_line("\n  \nINFO start\nerror: x.tsv:3: bad\nmore", "x.tsv") == "error: x.tsv:3: bad"
    assert first_line("\n\n  first \nsecond") == "first"
    assert first_line("2026-12-01 06:34:35,601 ERROR lmrepro.build_nlu: x.tsv:3: bad") == "ERROR lmrepro.build_nlu: x.tsv:3: bad"
    assert lost_summary() == "no"
    assert lost_summary(partial=[Path("/a/.out.tmp-1")], checked="listed") == "yes: partial output left: .out.tmp-1 (listed)"
    assert lost_summary(lost=["old.json"], partial=["x"]) == "yes: lost old.json; partial output left: x"


def test_committed_fault_table_covers_every_fault_test():
    """reports/faults.md (linked from results.md's appendix) has a row for every test that
    injects a fault today, and none for a test that no longer exists: rerun `make faults`
    after adding, renaming or removing one."""
    import re

    table = REPO / "reports" / "faults.md"
    assert table.is_file(), "reports/faults.md missing: run `make faults`"
    listed = set(re.findall(r"\| `([^`]+)` \|$", table.read_text(), re.M))
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "fault", "-p",
                                "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    ids = {line.strip() for line in collected.stdout.splitlines() if "::" in line}
    assert ids, collected.stdout + collected.stderr
    assert listed == ids, (f"not in the table: {sorted(ids - listed)}; stale rows: {sorted(listed - ids)}")
