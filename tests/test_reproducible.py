"""Two runs of the smoke DAG, same commit, params and thread count, in two copies of the
repo: every output under data/, models/ and reports/ is byte-identical, except the wall
times (reports/<track>/timing/*.json, reports/timing.md) and the MLflow run links
(reports/provenance.md). So a user can diff two reproductions, and DVC sees no change
where there is none.

The first run is the session's smoke run (tests/conftest.py, snapshotted before any test
changes a knob in it); this test pays for the second.
"""

from __future__ import annotations

import pytest

from tests.pipeline_helpers import differences, sh, smoke_copy, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]


def test_two_runs_give_byte_identical_outputs_except_timings(smoke_run, tmp_path_factory):
    first_root, _, first = smoke_run
    root = smoke_copy(tmp_path_factory.mktemp("reproducible") / "repo")
    assert sh(["git", "rev-parse", "HEAD"], root).stdout == sh(["git", "rev-parse", "HEAD"], first_root).stdout
    sh(["snakemake", "--cores", "2"], root)
    second = snapshot(root)
    # the comparison covers the results, and leaves out only timing files and the two per-run pages
    for rel in ("reports/results.md", "reports/summary.md", "reports/metrics.json", "reports/claims.json",
                "reports/rec/summary.json", "reports/mta/table.md", "reports/figures/training_curves.png"):
        assert rel in first.digests, f"{rel} not produced (or not compared)"
    assert {"reports/timing.md", "reports/provenance.md"} <= set(first.per_run)
    assert any(rel.startswith("reports/rec/timing/") for rel in first.per_run)
    assert first.per_run == second.per_run
    differ = differences(first, second)
    n_diff = sum(not line.startswith("    ") for line in differ)
    assert not differ, (f"{n_diff} of {len(first.digests)} outputs differ between two runs of the same commit, "
                        "params and threads (wall times belong in reports/<track>/timing/):\n" + "\n".join(differ))
