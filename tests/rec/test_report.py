"""rec_summary collects the runs and draws the figure; report.render only formats (writes
nothing) and quantifies the leak ablation; wall times stay in the timing files and only
render_timing (reports/timing.md) shows them."""

import json
from pathlib import Path

import pytest

from lmrepro import io
from lmrepro.config import load_params
from lmrepro.data.catalog import RecSource, rec_sources
from lmrepro.errors import LmreproError
from lmrepro.rec import report
from lmrepro.rec.summary import collect, hr10_vs_params

COLS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")
SOURCES = rec_sources(load_params(Path(__file__).resolve().parents[2] / "params.yaml")["data"]["rec"]["sources"])


def _metrics(hr10, params=1000):
    m = {"params": params, "users": 400, "best_epoch": 1, "unseen_test_share": 0.64}
    for split in ("valid", "test"):
        m.update({f"{split}_{c}": hr10 for c in COLS})
    return m


def _write_runs(root):
    mdir, tdir = root / "reports" / "metrics" / "rec", root / "reports" / "rec" / "timing"
    runs = [("sci", "lightlm", "sequential", 0.02), ("sci_leak", "lightlm", "sequential", 0.05),
            ("random", "wide", "direct", 0.01)]
    train, timing = [], []
    for method, model, setting, hr in runs:
        stem = f"beauty-{method}-{model}-{setting}"
        io.write_json(_metrics(hr), mdir / f"train-{stem}.json")
        io.write_json({"train_seconds": 3.25, "latency_ms_per_user": 1.54, "curve": []}, tdir / f"{stem}.json")
        train.append(mdir / f"train-{stem}.json")
        timing.append(tdir / f"{stem}.json")
    io.write_json(_metrics(0.03, params=0), mdir / "peer-beauty-mostpop.json")
    tree = {"tree_depth": 2, "item_id_len_mean": 2.2, "item_id_len_max": 3, "top_clusters": 2,
            "top_largest_share": 0.6, "top_entropy": 0.971, "item_id_len_count_2": 4, "item_id_len_count_3": 1}
    io.write_json({"weight_share_user_user": 0.7, "weight_share_user_item": 0.1, "weight_share_item_item": 0.2,
                   "ui_edges_inside": 0.3, "mixed_clusters": 0.5, **tree, "top_ui_edges_inside": 0.5},
                  mdir / "index-beauty-sci.json")
    io.write_json({**tree, "tree_depth": 1, "item_id_len_max": 2}, mdir / "index-beauty-random.json")
    return train, timing, [mdir / "peer-beauty-mostpop.json"], [mdir / "index-beauty-sci.json",
                                                                 mdir / "index-beauty-random.json"]


def _tiny_scale(exclude_history: bool, lr: float = 1e-3, bucket: int = 0) -> dict:
    """The summary's scale block of a tiny all-user run."""
    return {"subset": {"max_users": 0, "seed": 0},
            "train": {"epochs": 1, "batch_size": 8, "lr": lr, "bucket": bucket, "history": 5, "valid_users": 0,
                      "num_beams": 5},
            "model": {"lightlm": {"num_layers": 1, "num_decoder_layers": 1, "d_model": 8, "d_ff": 4, "match": "",
                                  "dropout": 0.0}},
            "sasrec": {"blocks": 1, "hidden": 8, "max_len": 5, "dropout": 0.0, "loss": "ce", "epochs": 1},
            "eval": {"exclude_history": exclude_history}}


def test_summary_figure_and_render_without_writes(tmp_path):
    train, timing, peers, index = _write_runs(tmp_path)
    s = collect(index, train, peers, ablations=["sci_leak"])
    assert {r["role"] for r in s["runs"]} == {"main", "ablation"}
    assert "seconds" not in json.dumps(s) and "latency" not in json.dumps(s)  # a result, not a timing
    s["scale"] = {"subset": {"max_users": 400, "seed": 0},
                  "train": {"epochs": 4, "batch_size": 64, "lr": 1e-3, "bucket": 0, "history": 5, "valid_users": 200,
                            "num_beams": 20},
                  "model": {"lightlm": {"num_layers": 6, "num_decoder_layers": 6, "d_model": 64, "d_ff": 16, "match": "", "dropout": 0.0}},
                  "sasrec": {"blocks": 2, "hidden": 64, "max_len": 20, "dropout": 0.2, "loss": "ce", "epochs": 40},
                  "eval": {"exclude_history": False}}
    (tmp_path / "reports" / "rec" / "summary.json").write_text(json.dumps(s))
    hr10_vs_params(s, tmp_path / "reports" / "rec" / "hr10_vs_params.png")
    before = sorted(p for p in tmp_path.rglob("*"))
    md = report.render(tmp_path, sources=SOURCES)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # render writes nothing
    assert "test HR@10 0.0200 -> 0.0500 (+150%)" in md
    assert "| beauty | lightlm | sequential | sci_leak |" in md and "+0.0300" in md
    assert "seen ones included (rec.eval.exclude_history: false" in md
    assert "a seeded sample of 400 users" in md and "![test HR@10 vs parameters]" in md
    # a user sample states the test targets no model could learn, and that absolute numbers do not compare
    assert "test targets never seen in the sample's train and valid rows: 64.0%" in md
    assert "absolute numbers are not comparable" in md and "the official batch order" in md
    assert "Indexings by test HR@10, lightlm (sequential): sci 0.0200." not in md  # one indexing: no ordering
    assert "| beauty | sci | lightlm | sequential | 1,000 |" in md  # main table
    assert "sci_leak | lightlm" not in md.split("Leak and graph-weight")[0]  # ablations kept out of it
    assert "MostPop (ours)" in md and "TIGER paper" in md
    assert "train s" not in md and "ms/user" not in md and "reports/timing.md" in md
    rows = [line for line in md.split("Leak and graph-weight")[0].splitlines() if line.startswith("| beauty |")]
    assert {line.count("|") for line in rows} == {12}  # 11 cells: no time columns left in any row
    # ID trees: one row per indexing; no edge share where users are numbered on their own
    assert "| beauty-random | 1 | 2.20 | 2 | 2 | 0.600 | 0.971 | - |" in md
    assert "| beauty-sci | 2 | 2.20 | 3 | 2 | 0.600 | 0.971 | 0.500 |" in md


def test_render_timing_formats_the_timing_files(tmp_path):
    train, timing, _, _ = _write_runs(tmp_path)
    io.write_json({"train_seconds": 12.6, "curve": []}, tmp_path / "reports/rec/timing/beauty-peer-sasrec.json")
    io.write_json({"train_seconds": 640.2, "curve": []}, tmp_path / "reports/rec/timing/beauty-protocol-sasrec.json")
    paths = [p.relative_to(tmp_path) for p in [*timing, tmp_path / "reports/rec/timing/beauty-peer-sasrec.json",
                                               tmp_path / "reports/rec/timing/beauty-protocol-sasrec.json"]]
    md = report.render_timing(tmp_path, paths)
    assert "| beauty | sci | lightlm | sequential | 3.2 | 1.5 |" in md
    assert "| beauty | - | SASRec (ours) | sequential | 13 | - |" in md
    assert "| beauty | protocol check | SASRec (ours) | sequential | 640 | - |" in md
    assert md.index("beauty | random") < md.index("beauty | sci |")  # sorted by file name
    assert report.render_timing(tmp_path, []) == ""


@pytest.mark.parametrize("name,content,match", [
    ("beauty-sci-lightlm-sequential.json", {"latency_ms_per_user": 1.0}, "need train_seconds"),
    ("beauty-sci-lightlm.json", {"train_seconds": 1.0}, "expected <dataset>-<indexing>"),
])
def test_render_timing_names_the_bad_file(tmp_path, name, content, match):
    io.write_json(content, tmp_path / "reports/rec/timing" / name)
    with pytest.raises(LmreproError, match=match) as err:
        report.render_timing(tmp_path, [Path("reports/rec/timing") / name])
    assert name in str(err.value)


def test_render_is_empty_without_a_summary(tmp_path):
    assert report.render(tmp_path) == ""


def test_a_dataset_without_peer_rows_renders_ours_only(tmp_path):
    """A user's own dataset has no paper table: its section has our rows and no peer row
    (this raised KeyError when the peer rows were a dict in the code)."""
    train, timing, peers, index = _write_runs(tmp_path)
    s = collect(index, train, peers, ablations=["sci_leak"])
    s["scale"] = _tiny_scale(exclude_history=True, lr=2e-3, bucket=50)
    (tmp_path / "reports" / "rec" / "summary.json").write_text(json.dumps(s))
    mine = {"beauty": RecSource(name="beauty", file="mine.txt")}  # same name as the fixture runs, no metadata
    md = report.render(tmp_path, sources=mine)
    assert "| beauty | sci | lightlm | sequential | 1,000 |" in md
    # all users: no unseen-target caveat, the published rows are on the same data
    assert "all users;" in md and "never seen" not in md.split("Protocol check")[0]
    assert "same full dataset" in md and "batch 8 at lr 0.002" in md and "runs of 50 batches" in md
    assert "TIGER paper" not in md
    with_peers = report.render(tmp_path, sources=SOURCES)
    assert with_peers.count("(TIGER paper, full data)") == 3  # P5, SASRec, TIGER from params


@pytest.mark.parametrize("hr10, word", [(0.02, "below"), (0.03, "reaches")])
def test_lightlm_against_the_p5_row_goes_each_way_and_only_on_all_users(tmp_path, hr10, word):
    train, timing, peers, index = _write_runs(tmp_path)
    s = collect(index, train, peers, ablations=["sci_leak"])
    for r in s["runs"]:
        if r["method"] == "sci":
            r["metrics"]["test_hr@10"] = hr10
    s["scale"] = _tiny_scale(exclude_history=False)
    (tmp_path / "reports" / "rec" / "summary.json").write_text(json.dumps(s))
    p5 = SOURCES["beauty"].peers["P5"][2]
    md = report.render(tmp_path, sources=SOURCES)
    assert f"P5 row (beauty, HR@10 {p5:.4f}, full data): LightLM, sequential, SCI {hr10:.4f} ({word} it)" in md
    s["scale"]["subset"]["max_users"] = 400  # a sample: the full-data row is not comparable
    (tmp_path / "reports" / "rec" / "summary.json").write_text(json.dumps(s))
    assert "P5 row" not in report.render(tmp_path, sources=SOURCES)


@pytest.mark.parametrize("share, noted", [(0.997, True), (0.5, False)])
def test_a_lopsided_top_level_is_called_out(share, noted):
    tree = {"tree_depth": 8, "item_id_len_mean": 6.1, "item_id_len_max": 9, "top_clusters": 20,
            "top_largest_share": share, "top_entropy": 0.01}
    md = "\n".join(report._id_trees({"beauty-sci": tree, "beauty-random": {**tree, "top_largest_share": 0.085}}))
    assert "| beauty-sci | 8 | 6.10 | 9 | 20 |" in md
    assert ("splits almost nothing" in md) is noted
    if noted:
        assert "in beauty-sci:" in md and "99.7%" in md and "beauty-random" not in md.split("One top cluster")[1]
