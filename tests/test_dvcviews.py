"""DVC's views read: headline metrics (a row per track, short lines, diffable across
commits) and plot tables with x/y that `dvc plots show/diff` draw."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from lmrepro import dvcviews
from lmrepro.errors import LmreproError
from tests.conftest import REPO

ENV = {**os.environ, "DVC_NO_ANALYTICS": "1"}


def _tiny_metrics() -> dict:
    """The sections the views read, with numbers chosen so every max/min is known."""
    def rec(hr):
        return {"test_hr@10": hr, "test_ndcg@10": hr / 2}

    return {
        "rec/train-beauty-sci-lightlm-direct": rec(0.04), "rec/train-beauty-cid-lightlm-direct": rec(0.03),
        "rec/train-beauty-sci-p5-direct": rec(0.05), "rec/peer-beauty-sasrec": rec(0.02),
        "mta/scores": {"summary": {m: {"macro": {"mean": v}} for m, v in
                                   {"mta": 0.7, "joint": 0.6, "single_ft": 0.65, "adapters": 0.9}.items()}},
        "prosg/eval": {"accuracy": {m: {"0": 0.9, "8": v, "64": v / 2} for m, v in
                                    {"none": 0.5, "random": 0.4, "repeat": 0.95, "oracle": 0.9, "prosg": 0.8,
                                     "prosg_sg": 0.6, "prosg_r2": 0.7, "prosg@eta2x": 0.1}.items()}},
        "edge/energy": {"breakdown": {"ours": {"hetero-RRAM": {"total_uj": 10.0}, "hetero-STT": {"total_uj": 12.0},
                                               "all_sram": {"total_uj": 30.0}, "dram_reload": {"total_uj": 20.0}}}},
        "edge/robustness": {"macro_accuracy": {"int8_bit_errors|s=0|ber=0": {"mean": 0.7},
                                               "int8_bit_errors|s=0|ber=0.01": {"mean": 0.5},
                                               "int8_pruned|s=0.5|ber=0": {"mean": 0.6}}},
    }


CLAIMS = {"claims": [{"id": "a", "paper": "LightLM", "verdict": "supported"},
                     {"id": "b", "paper": "Edge robustness", "verdict": "inconclusive"},
                     {"id": "c", "paper": "Edge", "verdict": "contradicted"}]}


def test_headline_rows_share_keys_and_pick_ours_vs_best_baseline():
    merged = _tiny_metrics()
    rows = {t: dvcviews.headline(t, merged, CLAIMS) for t in dvcviews.TRACKS}
    assert len({tuple(sorted(r)) for r in rows.values()}) == 1, "one set of keys: one table row per track"
    assert (rows["rec"]["ours"], rows["rec"]["baseline"]) == (0.04, 0.05)  # p5 and peers are baselines
    assert (rows["mta"]["ours"], rows["mta"]["baseline"]) == (0.7, 0.65)  # adapters (stage 1) is no baseline
    assert rows["prosg"] == {**rows["prosg"], "metric": "accuracy @ distance 64", "ours": 0.4, "baseline": 0.25}
    assert (rows["edge"]["ours"], rows["edge"]["baseline"]) == (10.0, 20.0)
    assert (rows["rec"]["supported"], rows["edge"]["inconclusive"], rows["edge"]["contradicted"]) == (1, 1, 1)
    assert sum(len(r) for r in rows.values()) < 50  # tens of values, not thousands


def test_missing_sections_and_unknown_papers_are_named(tmp_path):
    merged = _tiny_metrics()
    del merged["mta/scores"]
    with pytest.raises(LmreproError, match="no 'mta/scores' section"):
        dvcviews.headline("mta", merged, CLAIMS)
    with pytest.raises(LmreproError, match=r"claim 'x' has paper 'Nope'.*PAPER_TRACK"):
        dvcviews.verdict_counts({"claims": [{"id": "x", "paper": "Nope", "verdict": "supported"}]})
    merged = _tiny_metrics()
    del merged["prosg/eval"]["accuracy"]["prosg_sg"]
    with pytest.raises(LmreproError, match=r"prosg/eval.accuracy has no key 'prosg_sg'"):
        dvcviews.write_views(merged, CLAIMS, [], [tmp_path / "prosg_accuracy_vs_distance.csv"])


def test_plot_tables_are_wide_csv_with_the_declared_columns(tmp_path):
    files = [tmp_path / f"{p.name}.csv" for p in dvcviews.PLOTS]
    dvcviews.write_views(_tiny_metrics(), CLAIMS, [tmp_path / "rec.json"], files)
    assert json.loads((tmp_path / "rec.json").read_text())["ours"] == 0.04
    for spec, path in zip(dvcviews.PLOTS, files):
        rows = list(csv.reader(path.open()))
        assert tuple(rows[0]) == spec.columns and len(rows) > 2, path.name
    prosg = list(csv.DictReader(files[0].open()))
    assert [r["distance"] for r in prosg] == ["0", "8", "64"] and prosg[2]["prosg"] == "0.4"
    ber = list(csv.DictReader(files[1].open()))
    assert [(r["ber"], r["int8_bit_errors"]) for r in ber] == [("0.0", "0.7"), ("0.01", "0.5")]


def _dvc(args, cwd, check=True):
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def _git(args, cwd):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def views_repo(tmp_path):
    """A git+DVC repo with the committed dvc.yaml and the committed headline/plot files."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(["init", "-q"], root)
    shutil.copytree(REPO / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    for rel in [*dvcviews.headline_paths(), *dvcviews.plot_paths()]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    _git(["add", "-A"], root)
    _git(["commit", "-qm", "views"], root)
    return root


def test_metrics_show_is_one_short_row_per_track_and_diff_works_across_commits(views_repo):
    shown = _dvc(["metrics", "show"], views_repo).stdout
    lines = shown.strip().splitlines()
    assert len(lines) == 1 + len(dvcviews.TRACKS), shown
    assert max(map(len, lines)) < 200, shown
    assert "failed to load" not in shown
    rec = views_repo / "reports" / "headline" / "rec.json"
    doc = json.loads(rec.read_text())
    doc["ours"] = round(doc["ours"] + 0.125, 6)
    rec.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    _git(["commit", "-qam", "better"], views_repo)
    diff = _dvc(["metrics", "diff", "HEAD~1", "HEAD", "--json"], views_repo).stdout
    change = json.loads(diff)["reports/headline/rec.json"]["ours"]
    assert change["diff"] == pytest.approx(0.125, abs=1e-6)  # dvc rounds the values it diffs


def test_plots_show_draws_every_table_with_its_x_and_y(views_repo):
    rendered = json.loads(_dvc(["plots", "show", "--json"], views_repo).stdout)["data"]
    for path in dvcviews.plot_paths():
        (plot,) = rendered[path]
        values = plot["content"]["data"]["values"]
        spec = next(iter(dvcviews.dvc_plot_entry(path).values()))
        ys = spec["y"] if isinstance(spec["y"], list) else [spec["y"]]
        assert values and all(spec["x"] in v and all(y in v for y in ys) for v in values), path
    diff = json.loads(_dvc(["plots", "diff", "HEAD", "--json"], views_repo).stdout)["data"]
    assert set(dvcviews.plot_paths()) <= set(diff)


def test_the_evaluate_stage_takes_the_view_files_its_rule_names():
    """The rule's command (as dvc.yaml carries it) parses, and names every view file."""
    import shlex

    from lmrepro import dvcgen
    from lmrepro.stages import evaluate

    args = evaluate.stage.parser.parse_args(shlex.split(dvcgen.load_stages(REPO)["evaluate"]["cmd"])[3:])
    assert sorted(map(str, args.out_headline)) == sorted(dvcviews.headline_paths())
    assert sorted(map(str, args.out_plots)) == sorted(dvcviews.plot_paths())


def test_the_views_leave_out_ablation_runs():
    from lmrepro.stages.evaluate import without_ablations

    merged = {"rec/train-beauty-sci-lightlm-direct": {"test_hr@10": 0.02},
              "rec/train-beauty-sci_leak-lightlm-direct": {"test_hr@10": 0.05},
              "rec/peer-beauty-sasrec": {"test_hr@10": 0.08}, "mta/scores": {}}
    kept = without_ablations(merged, ["sci_leak", "sci_share"])
    assert set(kept) == {"rec/train-beauty-sci-lightlm-direct", "rec/peer-beauty-sasrec", "mta/scores"}
    assert dvcviews.headline("rec", kept, CLAIMS)["ours"] == 0.02
    assert dvcviews.headline("rec", merged, CLAIMS)["ours"] == 0.05  # what the headline said before
