"""The evaluate stage's claims: registry + per-unit tables -> claims.json, verdict text, summary."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from lmrepro import io
from lmrepro.report import claims as ev
from lmrepro.mta.schemas import Predictions
from lmrepro.rec.schemas import UserMetrics
from tests.conftest import REPO

METHODS = ["random", "sequential", "cid", "sci", "gci", "sci_qr"]


def _user_table(rng, users, rate):
    hit = (rng.random(len(users)) < rate).astype(float)
    rows = {"split": "test", "user": users, "rank": np.where(hit > 0, 1, -1)}
    for k in (5, 10, 20):
        rows[f"hr@{k}"] = hit
        rows[f"ndcg@{k}"] = hit * 0.5
    valid = pd.DataFrame({**rows, "split": "valid"})
    return pd.concat([pd.DataFrame(rows), valid], ignore_index=True)


@pytest.fixture
def claims_root(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "workflow" / "claims", root / "workflow" / "claims")
    shutil.copytree(REPO / "workflow" / "schemas", root / "workflow" / "schemas")
    rng = np.random.default_rng(0)
    users = np.arange(1, 801)
    ev_dir = root / "data" / "rec" / "eval" / "beauty"
    for method in METHODS:
        for model in ("lightlm", "wide", "p5"):
            for setting in ("direct", "sequential"):
                rate = 0.2 if (method == "sci" and model == "lightlm") else 0.1
                io.write_table(_user_table(rng, users, rate), ev_dir / f"{method}-{model}-{setting}.parquet", UserMetrics)
    for peer in ("mostpop", "sasrec"):
        io.write_table(_user_table(rng, users, 0.1), ev_dir / f"peer-{peer}.parquet", UserMetrics)
    rows = []
    for method in ("adapters", "mta", "single_ft", "multi_ft", "shared", "joint", "fusion"):
        for seed in (1, 2, 3):
            for task in ("sst2", "cola"):
                label = rng.integers(0, 2, 300)
                right = rng.random(300) < (0.8 if method == "mta" else 0.7)
                rows.append(pd.DataFrame({"method": method, "seed": seed, "task": task, "row": np.arange(300),
                                          "label": label, "pred": np.where(right, label, 1 - label)}))
    for method, df in pd.concat(rows).groupby("method"):
        io.write_table(df.reset_index(drop=True), root / "data" / "mta" / "preds" / f"{method}.parquet", Predictions)
    return root


PROVENANCE = {"profile": "test", "params_hash": "0123456789abcdef", "git_commit": "f" * 40, "git_dirty": False}


def test_claims_from_per_unit_tables(claims_root):
    results = ev.evaluate_claims(claims_root, n_boot=500, seed=0)
    by_id = {r.id: r for r in results}
    assert set(by_id) >= {"lightlm-sci-sequential", "alter-beats-baselines"}
    # planted: SCI+LightLM hits twice as often as every other run; MTA is 10 points better
    assert by_id["lightlm-sci-sequential"].verdict == "supported"
    assert by_id["lightlm-beats-peers"].verdict == "supported"
    assert by_id["alter-beats-baselines"].verdict == "supported"
    assert by_id["alter-beats-baselines"].seeds == 3 and by_id["alter-beats-baselines"].n == 600
    doc = ev.claims_json(results, PROVENANCE, claims_root)
    tested = [c for c in doc["claims"] if c["paper"] in ("LightLM", "ALTER")]
    assert {c["verdict"] for c in tested} <= {"supported", "contradicted", "inconclusive"}
    # this fixture has no ProSG or edge outcomes: those claims say so instead of guessing
    assert all(c["verdict"] == "not tested" and "not found" in c["reason"] for c in doc["claims"] if c not in tested)
    text = ev.render_verdicts(results)
    assert "lightlm-sci-sequential" in text and "95% CI" in text and "n = 800 users" in text
    # every sampled verdict, supported ones too, and every comparison row state what this n could detect
    sci = by_id["lightlm-sci-sequential"]
    assert sci.verdict == "supported" and f"smallest detectable effect at this n: {sci.mde:.4f}" in text
    for c in sci.comparisons:
        assert f"detectable at this n: {c.mde:.4f}: {c.verdict}" in text
    summary = ev.render_summary(results, PROVENANCE)
    assert summary.startswith("Profile `test`, params 0123456789ab, commit ffffffffffff")
    assert summary.count("\n| ") == len(results) + 1  # header + one row per claim


def test_a_claim_whose_arm_was_not_run_is_not_tested(claims_root):
    (claims_root / "data" / "rec" / "eval" / "beauty" / "cid-lightlm-sequential.parquet").unlink()
    by_id = {r.id: r for r in ev.evaluate_claims(claims_root, n_boot=300, seed=0)}
    assert by_id["lightlm-sci-sequential"].verdict == "not tested"
    assert "cid-lightlm-sequential.parquet" in by_id["lightlm-sci-sequential"].reason
    assert by_id["lightlm-sci-direct"].verdict == "supported"


def test_claims_are_deterministic(claims_root):
    one = ev.claims_json(ev.evaluate_claims(claims_root, n_boot=300, seed=0), PROVENANCE, claims_root)
    two = ev.claims_json(ev.evaluate_claims(claims_root, n_boot=300, seed=0), PROVENANCE, claims_root)
    assert one == two


def test_a_table_outside_the_declared_inputs_is_not_paired(claims_root):
    """A per-unit table left on disk by another grid (here: CID's) is not this run's: with the
    declared list it counts as not run, and the claim says so instead of pairing stale units."""
    ev_dir = claims_root / "data" / "rec" / "eval" / "beauty"
    declared = [p for p in claims_root.rglob("*.parquet") if p.name != "cid-lightlm-sequential.parquet"]
    by_id = {r.id: r for r in ev.evaluate_claims(claims_root, n_boot=300, seed=0, declared=declared)}
    assert by_id["lightlm-sci-sequential"].verdict == "not tested"
    assert "declared" in by_id["lightlm-sci-sequential"].reason and "cid-lightlm-sequential" in by_id["lightlm-sci-sequential"].reason
    assert by_id["lightlm-sci-direct"].verdict == "supported"  # its tables were declared
    assert (ev_dir / "cid-lightlm-sequential.parquet").is_file()  # the file is still there: only ignored
    everything = {r.id: r for r in ev.evaluate_claims(claims_root, n_boot=300, seed=0)}
    assert everything["lightlm-sci-sequential"].verdict != "not tested"  # without the list, any file on disk is read
