"""The onsuccess hook records in dvc.lock exactly what its invocation ran or verified.

Found by a user on a fresh clone: the hook committed every stage whose outputs existed,
so a default-params run after a smoke run vouched for smoke outputs in dvc.lock, and the
README's one-target example failed on stages whose inputs were absent.
"""

from __future__ import annotations

import sys

import pytest

from tests.faults import first_line, lost_summary
from tests.pipeline_helpers import changed_stages, clone_copy, lock_entries, sh

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SMOKE = ["--configfile", "params.yaml", "workflow/profiles/smoke/params.yaml"]
NLU = ["fetch@nlu", "build_nlu"]  # DVC names: rule@<wildcard values> (lmrepro.dvcgen)


def test_readme_partial_run_exits_0_and_records_only_its_stages(tmp_path, record_fault):
    root = clone_copy(tmp_path / "repo")
    before = lock_entries(root)
    run = sh(["snakemake", "--cores", "1", "data/nlu/tasks.parquet"], root)
    assert "recorded 2 stage(s) this run ran and 0 it found up to date" in run.stdout + run.stderr, run.stderr[-3000:]
    after = lock_entries(root)
    assert {n for n in before if before[n] != after.get(n)} <= set(NLU)
    assert not changed_stages(root, NLU)
    # the committed rec summary has no inputs in a clone: still reported, never recorded
    assert "rec_summary" in changed_stages(root, ["rec_summary"])
    foreign = sorted(n for n in before if before[n] != after.get(n) and n not in NLU)
    record_fault("partial run in a fresh clone (dvc.lock)",
                 "`snakemake --cores 1 data/nlu/tasks.parquet` (the README's one-target run)",
                 f"exit {run.returncode}: {first_line(run.stdout + run.stderr, 'recorded 2 stage(s)')}",
                 lost_summary(lost=[f"dvc.lock entry {n} overwritten" for n in foreign],
                              checked=f"{len(before)} dvc.lock entries compared; only {', '.join(NLU)} may change"))


def test_default_run_after_smoke_never_records_smoke_outputs(tmp_path, record_fault):
    root = clone_copy(tmp_path / "repo")
    before = lock_entries(root)
    smoke_targets = ["data/nlu/tasks.parquet", "reports/metrics/rec/index-beauty-random.json"]
    smoke = sh(["snakemake", "--cores", "2", *smoke_targets, *SMOKE], root)  # --configfile takes several
    assert "dvc.lock left as it was" in smoke.stdout + smoke.stderr
    assert lock_entries(root) == before
    # the smoke profile works in runs/smoke: nothing of it at the root
    assert (root / "runs" / "smoke" / "data" / "nlu" / "tasks.parquet").is_file() and not (root / "data").exists()

    run = sh(["snakemake", "--cores", "1", "data/nlu/tasks.parquet", "--forcerun", "build_nlu"], root)
    log = run.stdout + run.stderr
    # both ran: the smoke run's fetch@nlu output is in runs/smoke, not the default's data/
    assert "recorded 2 stage(s) this run ran and 0 it found up to date" in log, log[-3000:]
    after = lock_entries(root)
    assert {n for n in before if before[n] != after.get(n)} <= set(NLU)
    assert not changed_stages(root, NLU)
    smoke_made = ["fetch@rec", "build_rec@beauty", "rec_index@beauty-random"]
    assert all(after.get(n) == before.get(n) for n in smoke_made)
    assert "rec_index@beauty-random" in changed_stages(root, smoke_made)
    vouched = [n for n in smoke_made if after.get(n) != before.get(n)]
    record_fault("smoke-profile outputs on disk before a default run (dvc.lock)",
                 "a smoke run of two targets, then a default-params run of build_nlu",
                 f"smoke run: {first_line(smoke.stdout + smoke.stderr, 'dvc.lock left as it was')}; default run: "
                 f"{first_line(log, 'recorded 2 stage(s)')}",
                 lost_summary(lost=[f"dvc.lock vouches for smoke output {n}" for n in vouched],
                              checked=f"dvc.lock entries of {len(smoke_made)} smoke-made stages unchanged; "
                              "dvc reports rec_index@beauty-random as changed"))


def test_commit_refuses_unknown_stages_and_missing_outputs(tmp_path):
    root = clone_copy(tmp_path / "repo")
    result = sh([sys.executable, "-m", "lmrepro.dvcgen", "commit", "no-such-stage"], root, check=False)
    assert result.returncode == 2 and "no-such-stage" in result.stderr
    result = sh([sys.executable, "-m", "lmrepro.dvcgen", "commit", "build_nlu"], root, check=False)
    assert result.returncode == 2 and "data/nlu/tasks.parquet" in result.stderr
    result = sh([sys.executable, "-m", "lmrepro.dvcgen", "commit"], root, check=False)
    assert result.returncode == 2 and "name the stages" in result.stderr
