"""The fault table: fault-injection tests record what they injected and what they observed.

Why: the report's appendix lists each fault we inject, what the user saw and whether
anything was lost. Typed by hand, such a table drifts from the code; here each row comes
from a test that injected the fault and checked the outcome in that run, and a row is
kept only if its test passed.

A test asks for the ``record_fault`` fixture and calls it after its assertions::

    record_fault("empty raw file", "0-byte SICK_train.txt", f"exit {rc}: {line}", lost_summary())

At session end, if ``LMREPRO_FAULT_TABLE=<path>`` is set, the rows of the tests that
passed are written there as one Markdown table (atomically, sorted by fault). Without
the variable nothing is written, so ordinary and CI runs never touch a tracked file.
tests/conftest.py imports the fixture and the two hooks from here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ENV = "LMREPRO_FAULT_TABLE"
COLUMNS = ("fault", "how injected", "what the user saw", "anything lost?", "test id")
MAX_CELL = 360  # a message's first line can carry a long path; the table stays readable


@dataclass(frozen=True)
class FaultRow:
    fault: str
    injected: str
    user_saw: str
    lost: str
    test_id: str


@dataclass
class _Log:
    """Rows per test id, and whether that test passed (call passed, no phase failed)."""

    rows: dict[str, list[FaultRow]]
    passed: dict[str, bool]


_LOG = pytest.StashKey[_Log]()


def _log(config: pytest.Config) -> _Log:
    if _LOG not in config.stash:
        config.stash[_LOG] = _Log({}, {})
    return config.stash[_LOG]


# -- helpers the tests use to turn what they observed into cells -------------------------------
_LOG_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ ")  # logging's asctime: differs every run


def first_line(text: str, containing: str | None = None) -> str:
    """The first non-blank line of ``text`` (the first one containing ``containing`` if given),
    without a leading log timestamp, so the table is the same from run to run."""
    lines = [_LOG_TIME.sub("", line.strip()) for line in text.splitlines() if line.strip()]
    if containing is not None:
        lines = [line for line in lines if containing in line]
    return lines[0] if lines else ""


def lost_summary(lost: Iterable[object] = (), partial: Iterable[object] = (), checked: str = "") -> str:
    """'no' or 'yes: ...' from the previously good outputs found gone and the partial ones found left.

    ``checked`` says what the test compared to conclude so (shown after 'no'/'yes').
    """
    lost, partial = [_name(p) for p in lost], [_name(p) for p in partial]
    parts = []
    if lost:
        parts.append(f"lost {', '.join(lost)}")
    if partial:
        parts.append(f"partial output left: {', '.join(partial)}")
    head = "yes: " + "; ".join(parts) if parts else "no"
    return f"{head} ({checked})" if checked else head


def _name(item: object) -> str:
    return item.name if isinstance(item, Path) else str(item)


# -- the plugin -----------------------------------------------------------------------------------
@pytest.fixture
def record_fault(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., None]:
    """``record_fault(fault, injected, user_saw, lost)``: one row of the fault table for this test."""
    from tests.conftest import REPO, SHARED_DATA

    replace = [(str(tmp_path_factory.getbasetemp()), "$TMP"), (str(SHARED_DATA), "$DATA"), (str(REPO), "$REPO")]
    if "tmp_path" in request.fixturenames:  # the test's own folder first: "$TMP/out.txt", not "$TMP/test_x0/out.txt"
        replace.insert(0, (str(request.getfixturevalue("tmp_path")), "$TMP"))
    rows = _log(request.config).rows.setdefault(request.node.nodeid, [])

    def record(fault: str, injected: str, user_saw: str, lost: str) -> None:
        cells = [_cell(v, replace) for v in (fault, injected, user_saw, lost)]
        if not all(cells[:3]):
            raise ValueError(f"a fault row needs a fault, how it was injected and what the user saw: {cells}")
        rows.append(FaultRow(*cells, test_id=request.node.nodeid))

    return record


def _cell(value: object, replace: list[tuple[str, str]]) -> str:
    """One table cell: machine-specific paths replaced, one line, pipes escaped, length capped."""
    text = str(value)
    for path, name in replace:
        text = text.replace(path, name)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return text.replace("|", r"\|")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that records a fault ``fault``, so ``pytest -m fault`` (``make faults``)
    runs exactly the tests behind the table: no hand-kept list of files."""
    for item in items:
        if "record_fault" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.fault)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """A test counts as passed when its call passed (not as an xfail) and no phase failed."""
    report = yield
    passed = _log(item.config).passed
    if report.when == "call":
        passed[item.nodeid] = report.passed and not hasattr(report, "wasxfail")
    elif report.failed:
        passed[item.nodeid] = False
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(ENV)
    if not target:
        return
    if getattr(session.config.option, "numprocesses", None):  # xdist: each process sees only its share of the rows
        raise pytest.UsageError(f"{ENV} needs one pytest process (-p no:xdist, as `make faults` runs it)")
    log = _log(session.config)
    rows = [row for nodeid, rs in log.rows.items() if log.passed.get(nodeid) for row in rs]
    write_table(rows, Path(target))


def render(rows: Iterable[FaultRow]) -> str:
    """The Markdown table, rows sorted by fault (then test id, then content) for a stable file."""
    ordered = sorted(rows, key=lambda r: (r.fault.lower(), r.test_id, r.injected, r.user_saw, r.lost))
    out = [
        "<!-- generated by a pytest run with LMREPRO_FAULT_TABLE set (tests/faults.py); do not edit -->",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    out += [f"| {r.fault} | {r.injected} | {r.user_saw} | {r.lost} | `{r.test_id}` |" for r in ordered]
    return "\n".join(out) + "\n"


def write_table(rows: Iterable[FaultRow], path: Path) -> None:
    from lmrepro import io

    io.write_text(render(rows), path)
