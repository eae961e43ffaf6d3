"""The protocol check (rec.protocol_check; lmrepro.rec.protocol, stages rec_peer --block
and rec_protocol): our SASRec/MostPop numbers beside the published TIGER-table SASRec row,
relative gaps against the tolerance, the SASRec setting beside the paper's, the share of
unseen test targets, and the report table, at smoke size through the real stages."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from lmrepro import config, io
from lmrepro.data.catalog import rec_sources
from lmrepro.errors import LmreproError
from lmrepro.rec import report
from lmrepro.rec.protocol import ProtocolCheckConfig, check, published_rows, unseen_test_share
from lmrepro.rec.schemas import UserMetrics
from tests.rec.test_stages_smoke import SMOKE, USERS, _run, tiny  # noqa: F401  (the 30-user fixture)

BEAUTY_ROWS = rec_sources(config.get_key(SMOKE, "data.rec.sources"))["beauty"].peers  # params, not code
SASREC = dict(zip(("hr@5", "ndcg@5", "hr@10", "ndcg@10"), BEAUTY_ROWS["SASRec"]))


def _metrics(scale_hr10: float, scale_ndcg10: float) -> dict:
    m = {"users": 100, "best_epoch": 3, "params": 5}
    m.update({f"test_{c}": v for c, v in SASREC.items()})
    m["test_hr@10"] *= scale_hr10
    m["test_ndcg@10"] *= scale_ndcg10
    return m


def test_unseen_test_share_counts_targets_missing_from_train_and_valid():
    df = pd.DataFrame({"user": [1, 1, 1, 2, 2, 2], "item": [10, 11, 12, 20, 10, 30],
                       "split": ["train", "valid", "test", "train", "valid", "test"]})
    assert unseen_test_share(df) == 1.0  # test items 12 and 30: in no train/valid row
    df.loc[2, "item"] = 20  # user 1's test item now seen in user 2's train row
    assert unseen_test_share(df) == 0.5
    df.loc[5, "item"] = 11  # user 2's test item seen in user 1's valid row
    assert unseen_test_share(df) == 0.0


@pytest.mark.parametrize("hr,ndcg,within", [(1.10, 0.90, True), (0.80, 1.0, False), (1.0, 1.2, False)])
def test_check_applies_the_tolerance_to_hr10_and_ndcg10(hr, ndcg, within):
    cfg = ProtocolCheckConfig(sasrec={"epochs": 8, "hidden": 64, "max_len": 50})
    rec = check("beauty", {"sasrec": _metrics(hr, ndcg), "mostpop": _metrics(0.5, 0.5)}, cfg,
                {"users": 100, "unseen_test_share": 0.0}, published=BEAUTY_ROWS)
    rows = {r["peer"]: r for r in rec["peers"]}
    assert rows["sasrec"]["within_tolerance"] is within
    assert rows["sasrec"]["rel_gap"]["hr@10"] == pytest.approx(hr - 1)
    assert rows["sasrec"]["best_epoch"] == 3
    assert rows["mostpop"]["published"] is None and rows["mostpop"]["within_tolerance"] is None
    assert {"epochs", "hidden"} <= set(rec["sasrec_differs"]) and "max_len" not in rec["sasrec_differs"]


def test_the_paper_setting_needs_a_block():
    from lmrepro.stages.rec_peer import _keys

    assert _keys("rec.protocol_check", "sasrec_paper")["sasrec"] == "rec.protocol_check.sasrec_paper"
    assert _keys(None, "sasrec")["sasrec"] == "rec.peer.sasrec"
    with pytest.raises(LmreproError, match="needs --block"):
        _keys(None, "sasrec_paper")


def test_config_names_the_bad_key():
    # a dataset without a published SASRec row (e.g. a user's own file) cannot be checked
    with pytest.raises(LmreproError, match=r"rec.protocol_check.datasets: mine has no published \['SASRec'\] row"):
        published_rows("mine", {})
    with pytest.raises(LmreproError, match="data.rec.sources.mine.peers has \\['TIGER'\\]"):
        check("mine", {"sasrec": _metrics(1, 1)}, ProtocolCheckConfig(), {}, published={"TIGER": (0.1,) * 4})
    with pytest.raises(LmreproError, match="rec.protocol_check.tolerance"):
        ProtocolCheckConfig(tolerance=1.5)
    with pytest.raises(LmreproError, match="unknown peer"):
        check("beauty", {"bpr": _metrics(1, 1)}, ProtocolCheckConfig(), {}, published=BEAUTY_ROWS)


def test_the_published_row_is_read_from_params():
    """Another SASRec row in data.rec.sources moves the gap: no number is typed in code."""
    halved = {**BEAUTY_ROWS, "SASRec": tuple(v / 2 for v in BEAUTY_ROWS["SASRec"])}
    rec = check("beauty", {"sasrec": _metrics(1, 1)}, ProtocolCheckConfig(), {}, published=halved)
    assert rec["peers"][0]["rel_gap"]["hr@10"] == pytest.approx(1.0)
    assert rec["peers"][0]["within_tolerance"] is False


def _block(max_users: int) -> dict:
    block = dict(config.get_key(SMOKE, "rec.protocol_check"))
    block["subset"] = {"max_users": max_users, "seed": 0}
    return block


def _cfg(block: dict) -> str:
    return json.dumps({"rec.protocol_check": block, "runtime": {**SMOKE["runtime"], "threads": 1},
                       "data.rec.sources.beauty": config.get_key(SMOKE, "data.rec.sources.beauty")})


def test_protocol_check_stages_at_smoke_size(tiny):  # noqa: F811
    from lmrepro.stages import rec_peer, rec_protocol

    root, inter, _ = tiny
    out = root / "protocol"
    block = _block(USERS - 10)  # a sample of the fixture: the report must say so
    peers = []
    for peer in ("mostpop", "sasrec", "sasrec_paper"):
        extra = (["--model-dir", str(out / f"model-{peer}"), "--timing", str(out / f"t-{peer}.json")]
                 if peer != "mostpop" else [])
        metrics = out / f"protocol-beauty-{peer}.json"
        _run(rec_peer, ["--dataset", "beauty", "--peer", peer, "--block", "rec.protocol_check",
                        "--interactions", str(inter), "--per-user", str(out / f"{peer}.parquet"),
                        "--metrics", str(metrics), *extra, "--cfg", _cfg(block)])
        assert io.read_json(metrics)["users"] == USERS - 10
        assert len(io.read_table(out / f"{peer}.parquet", UserMetrics)) == 2 * (USERS - 10)
        peers.append(metrics)
    timing = io.read_json(out / "t-sasrec.json")
    assert len(timing["curve"]) == block["sasrec"]["epochs"] and timing["train_cpu_seconds"] > 0
    # the paper-setting SASRec trained with its own block key (BCE, one negative)
    paper_cfg = json.loads((out / "model-sasrec_paper" / "config.json").read_text())["sasrec"]
    assert paper_cfg["loss"] == "bce" and paper_cfg["epochs"] == block["sasrec_paper"]["epochs"]
    table = root / "beauty.parquet"
    dest = root / "reports" / "rec" / "protocol_check.json"
    _run(rec_protocol, ["--interactions", str(table), "--peers", *map(str, peers), "--out", str(dest),
                        "--cfg", _cfg(block)])
    rec = io.read_json(dest)["datasets"][0]
    assert rec["users"] == USERS - 10 and rec["dataset_users"] == USERS and rec["all_users"] is False
    assert 0.0 < rec["unseen_test_share"] <= 1.0  # a 20-user sample cannot have seen every target
    assert [p["peer"] for p in rec["peers"]] == ["mostpop", "sasrec", "sasrec_paper"]
    assert rec["sasrec_paper_differs"] and "loss" not in rec["sasrec_paper_differs"]
    md = "\n".join(report._protocol(root))
    assert "| beauty | SASRec (ours) | 20 |" in md and "| beauty | SASRec (TIGER paper) | 30 | 0.0387 |" in md
    assert "a seeded sample of 20 of 30 users" in md
    sas = rec["peers"][1]
    assert f"our SASRec {'agrees with' if sas['within_tolerance'] else 'is '}" in md
    assert sas["within_tolerance"] or "the published row, outside the tolerance" in md
    assert f"selected epoch {sas['best_epoch'] + 1}" in md
    assert f"{rec['unseen_test_share']:.1%}" in md
    assert "in the SASRec paper's setting" in md
    assert md.count("| beauty | SASRec (TIGER paper) |") == 1  # one published row for both of our settings


@pytest.mark.parametrize("ours, paper, says", [
    (1.33, 1.05, "the protocol agrees with the literature"),  # the setting explains the gap
    (1.33, 0.60, "the published row lies between the two settings"),  # bracketed
    (1.33, 1.30, "the training setting does not explain the gap"),  # both above
    (0.50, 0.55, "the training setting does not explain the gap"),  # both below
])
def test_the_setting_note_goes_each_way(ours, paper, says):
    from lmrepro.rec.published import SASREC_PAPER

    cfg = ProtocolCheckConfig(sasrec={"epochs": 8, "loss": "ce"}, sasrec_paper={**SASREC_PAPER, "epochs": 30})
    rec = check("beauty", {"sasrec": _metrics(ours, ours), "sasrec_paper": _metrics(paper, paper)}, cfg,
                {"users": 100, "dataset_users": 100, "items": 10, "all_users": True, "unseen_test_share": 0.0},
                published=BEAUTY_ROWS)
    assert rec["sasrec_paper_differs"] == ["epochs"]
    note = report._setting_effect(rec, *(next(p for p in rec["peers"] if p["peer"] == k)
                                          for k in ("sasrec", "sasrec_paper")))
    assert says in note and "30 epochs" in note


def test_protocol_stage_rejects_a_foreign_metrics_file(tiny, tmp_path):  # noqa: F811
    from lmrepro.stages import rec_protocol

    root, inter, _ = tiny
    bad = tmp_path / "peer-beauty-sasrec.json"
    io.write_json(_metrics(1, 1), bad)
    with pytest.raises(SystemExit) as exit_:
        rec_protocol.stage.run(["--interactions", str(root / "beauty.parquet"), "--peers", str(bad),
                                "--out", str(tmp_path / "o.json"), "--cfg", _cfg(_block(0))])
    assert exit_.value.code != 0


def test_render_without_the_check_adds_nothing(tmp_path):
    assert report._protocol(tmp_path) == []
