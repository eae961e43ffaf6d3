"""Two runs of the smoke DAG, same commit, params and thread count, in two copies of the
repo: every output under data/, models/ and reports/ is byte-identical, except the wall
times (reports/<track>/timing/*.json, reports/timing.md) and the MLflow run links
(reports/provenance.md). So a user can diff two reproductions, and DVC sees no change
where there is none.

The first run is the session's smoke run: Snakemake's local executor, the local MLflow
store. The second is the session's cluster run: the generic cluster executor, every job
its own submitted process, logging over HTTP to a tracking server (tests/conftest.py).
Both are snapshotted right after they finish, before any test changes a knob in them. So
the outputs are shown to depend on neither the executor nor the tracking store, and the
suite pays for one second run instead of two.
"""

from __future__ import annotations

import pytest

from tests.pipeline_helpers import PER_RUN_PAGES, differences

pytestmark = [pytest.mark.e2e, pytest.mark.scaleout, pytest.mark.timeout(3600)]


def test_two_runs_give_byte_identical_outputs_except_timings(smoke_run, cluster_run):
    first, second = smoke_run.snapshot, cluster_run.snapshot
    assert smoke_run.commit == cluster_run.commit
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
