"""Two runs of the smoke DAG, same commit, params and thread count, in two copies of the
repo: every output under data/, models/ and reports/ is byte-identical, except the wall
times (reports/<track>/timing/*.json, reports/timing.md) and the MLflow run links
(reports/provenance.md). So a user can diff two reproductions, and DVC sees no change
where there is none.

The first run is the session's smoke run (tests/conftest.py, snapshotted before any test
changes a knob in it); this test pays for the second. When it is the first to ask for the
session run, the two runs go side by side.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.code_trace import trace_env
from tests.pipeline_helpers import PER_RUN_PAGES, differences, sh, smoke_copy, snapshot, spawn

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]


def test_two_runs_give_byte_identical_outputs_except_timings(request, tmp_path_factory):
    root = smoke_copy(tmp_path_factory.mktemp("reproducible") / "repo")
    log = root.parent / "snakemake.log"
    # traced like the session run (tests/code_trace.py), so the two differ in nothing but time
    second_run = spawn(["snakemake", "--cores", "2"], root, log, env_extra=trace_env(root, root.parent / "imports"))
    try:
        first_root, _, first = request.getfixturevalue("smoke_run")
        rc = second_run.wait(timeout=3000)
    finally:
        if second_run.poll() is None:
            os.killpg(second_run.pid, signal.SIGTERM)
            second_run.wait()
    assert rc == 0, f"second smoke run failed ({rc}):\n{log.read_text()[-6000:]}"
    assert sh(["git", "rev-parse", "HEAD"], root).stdout == sh(["git", "rev-parse", "HEAD"], first_root).stdout
    second = snapshot(root)
    # the comparison covers the results and leaves out only the timing files and the per-run pages
    for rel in ("reports/results.md", "reports/summary.md", "reports/metrics.json", "reports/claims.json",
                "reports/rec/summary.json", "reports/mta/table.md", "reports/figures/training_curves.png"):
        assert rel in first.digests, f"{rel} not produced (or not compared)"
    assert set(PER_RUN_PAGES) <= set(first.per_run)
    assert any(rel.startswith("reports/rec/timing/") for rel in first.per_run)
    assert first.per_run == second.per_run
    differ = differences(first, second)
    n_diff = sum(not line.startswith("    ") for line in differ)
    assert not differ, (f"{n_diff} of {len(first.digests)} outputs differ between two runs of the same commit, "
                        "params and threads (wall times belong in reports/<track>/timing/):\n" + "\n".join(differ))
