"""Small files for DVC's views: headline metrics per track and plot data with x/y.

Why: reports/metrics.json holds every number of every stage (~1,900 values); as a DVC
metric it made `dvc metrics show` print 68,000-character lines and `dvc exp show`
thousands of columns. DVC puts every metric key of every file in one table (one row per
file, one column per key), so the headline files share one small set of keys: a row per
track, a column per role. `dvc metrics diff` lists one line per key and works across
commits because these files are committed to git (``cache: false``).

    reports/headline/<track>.json   metric, ours, baseline, and the track's claim verdicts
    reports/plots/<name>.csv        one x column and one or more y columns (wide format),
                                    declared with x/y in dvc.yaml's top-level ``plots:``
                                    so `dvc plots show/diff` draws and overlays them

All values come from the merged per-stage metrics (reports/metrics.json) and the claims
(reports/claims.json) that the evaluate stage has just computed; nothing is typed here.
"""

from __future__ import annotations

import csv
import io as _io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.tracks import TRACKS, by_track

HEADLINE_DIR = "reports/headline"
PLOTS_DIR = "reports/plots"
# claims.json names a claim's paper; its headline row is the track that reproduces it.
PAPER_TRACK = {"LightLM": "rec", "ALTER": "mta", "ProSG": "prosg", "Edge": "edge", "Edge robustness": "edge"}
VERDICTS = ("supported", "contradicted", "inconclusive", "not tested")
DIGITS = 6  # significant digits kept: enough to see any real change, stable across float noise


@dataclass(frozen=True)
class PlotSpec:
    """One plot: its file's stem, its columns, what dvc.yaml declares, how rows are made.

    The columns are fixed here (not read from the data) so that dvc.yaml, generated from
    the Snakefile alone, names fields that every run's file has: a missing series is an
    error naming it, never a silently empty line.
    """

    name: str
    columns: tuple[str, ...]  # the CSV header, in order
    x: str  # DVC's x field (for bar charts: the value)
    y: str | tuple[str, ...]  # DVC's y field(s) (for bar charts: the category)
    template: str
    title: str
    rows: Callable[[dict, tuple[str, ...]], list[list[Any]]]  # (merged metrics, columns) -> rows


def _sig(value: float) -> float:
    return float(f"{float(value):.{DIGITS}g}")


def _need(merged: dict, key: str) -> dict:
    if key not in merged:
        raise LmreproError(f"reports/metrics.json: no {key!r} section (its stage did not run?); "
                           f"sections: {', '.join(sorted(merged)) or 'none'}")
    return merged[key]


def _get(section: dict, where: str, *path: str) -> Any:
    node = section
    for i, part in enumerate(path):
        if not isinstance(node, dict) or part not in node:
            raise LmreproError(f"reports/metrics.json: {where} has no key {'.'.join(path[: i + 1])!r}")
        node = node[part]
    return node


# ---------------------------------------------------------------- headline per track

def _rec(merged: dict) -> dict:
    """Best test HR@10 of a LightLM run vs the best of every other recommender run."""
    ours, others = [], []
    for key, section in merged.items():
        if key.startswith("rec/train-"):
            model = key.removeprefix("rec/train-").split("-")[2]
            (ours if model == "lightlm" else others).append(_get(section, key, "test_hr@10"))
        elif key.startswith("rec/peer-"):
            others.append(_get(section, key, "test_hr@10"))
    if not ours:
        raise LmreproError("reports/metrics.json: no rec/train-*-lightlm-* section (no LightLM run)")
    return {"metric": "test_hr@10, best run", "ours": max(ours), "baseline": max(others) if others else None}


MTA_BASELINES = ("fusion", "joint", "multi_ft", "shared", "single_ft")


def _mta(merged: dict) -> dict:
    """Macro accuracy (mean over seeds) of two-stage MTA vs the best baseline."""
    summary = _get(_need(merged, "mta/scores"), "mta/scores", "summary")
    ours = _get(summary, "mta/scores.summary", "mta", "macro", "mean")
    base = [summary[m]["macro"]["mean"] for m in MTA_BASELINES if m in summary]
    return {"metric": "macro accuracy", "ours": ours, "baseline": max(base) if base else None}


PROSG_BASELINES = ("none", "random")  # no update / a random update (repeat and oracle are upper bounds)


def _prosg(merged: dict) -> dict:
    """Accuracy at the largest evaluated distance: ProSG vs the best prompt baseline."""
    accuracy = _get(_need(merged, "prosg/eval"), "prosg/eval", "accuracy")
    ours_curve = _get(accuracy, "prosg/eval.accuracy", "prosg")
    far = max(ours_curve, key=float)
    base = [accuracy[m][far] for m in PROSG_BASELINES if far in accuracy.get(m, {})]
    return {"metric": f"accuracy @ distance {far}", "ours": ours_curve[far], "baseline": max(base) if base else None}


def _edge(merged: dict) -> dict:
    """Energy (µJ, lower is better) of our model on the best heterogeneous memory design vs
    the best homogeneous one (all-SRAM, DRAM reload, gated SRAM, all-eNVM)."""
    breakdown = _get(_need(merged, "edge/energy"), "edge/energy", "breakdown", "ours")
    hetero = [v["total_uj"] for k, v in breakdown.items() if k.startswith("hetero-")]
    homo = [v["total_uj"] for k, v in breakdown.items() if not k.startswith("hetero-")]
    if not hetero:
        raise LmreproError("reports/metrics.json: edge/energy.breakdown.ours has no hetero-* design")
    return {"metric": "energy_uj (lower=better)", "ours": min(hetero), "baseline": min(homo) if homo else None}


HEADLINES: dict[str, Callable[[dict], dict]] = by_track(
    {"rec": _rec, "mta": _mta, "prosg": _prosg, "edge": _edge}, "lmrepro.dvcviews.HEADLINES")


def verdict_counts(claims: dict) -> dict[str, dict[str, int]]:
    """{track: {verdict: n}} from claims.json's claims list."""
    counts = {t: dict.fromkeys(VERDICTS, 0) for t in TRACKS}
    for claim in claims.get("claims", []):
        track = PAPER_TRACK.get(claim.get("paper"))
        if track is None:
            raise LmreproError(f"claims.json: claim {claim.get('id')!r} has paper {claim.get('paper')!r}, which "
                               "has no headline track; add it to lmrepro.dvcviews.PAPER_TRACK")
        if claim.get("verdict") not in VERDICTS:
            raise LmreproError(f"claims.json: claim {claim.get('id')!r} has verdict {claim.get('verdict')!r}")
        counts[track][claim["verdict"]] += 1
    return counts


def headline(track: str, merged: dict, claims: dict) -> dict:
    """One track's headline row: the same keys for every track (see module docstring)."""
    if track not in HEADLINES:
        raise LmreproError(f"no headline for track {track!r} (tracks: {', '.join(TRACKS)})")
    row = HEADLINES[track](merged)
    out: dict[str, Any] = {"metric": row["metric"], "ours": _sig(row["ours"])}
    out["baseline"] = None if row["baseline"] is None else _sig(row["baseline"])
    out.update({v.replace(" ", "_"): n for v, n in verdict_counts(claims)[track].items()})
    return out


# ---------------------------------------------------------------- plot data

def _prosg_curve(merged: dict, columns: tuple[str, ...]) -> list[list[Any]]:
    accuracy = _get(_need(merged, "prosg/eval"), "prosg/eval", "accuracy")
    methods = columns[1:]
    for m in methods:
        _get(accuracy, "prosg/eval.accuracy", m)
    distances = sorted({d for m in methods for d in accuracy[m]}, key=float)
    for m in methods:
        missing = [d for d in distances if d not in accuracy[m]]
        if missing:
            raise LmreproError(f"reports/metrics.json: prosg/eval.accuracy.{m} lacks distance(s) {missing}")
    return [[int(float(d)), *(_sig(accuracy[m][d]) for m in methods)] for d in distances]


def _edge_ber(merged: dict, columns: tuple[str, ...]) -> list[list[Any]]:
    """Macro accuracy (mean of seeds) vs bit-error rate, unpruned (s=0) models only."""
    table = _get(_need(merged, "edge/robustness"), "edge/robustness", "macro_accuracy")
    series: dict[str, dict[float, float]] = {}
    for key, value in table.items():
        config, sparsity, ber = key.split("|")
        if sparsity == "s=0":
            series.setdefault(config, {})[float(ber.removeprefix("ber="))] = value["mean"]
    names = columns[1:]
    for name in names:
        if len(series.get(name, {})) < 2:
            raise LmreproError(f"reports/metrics.json: edge/robustness.macro_accuracy has no bit-error sweep of {name!r}")
    bers = sorted(set.intersection(*(set(series[n]) for n in names)))
    return [[ber, *(_sig(series[n][ber]) for n in names)] for ber in bers]


def _rec_runs(merged: dict, columns: tuple[str, ...]) -> list[list[Any]]:
    rows = []
    for key, section in sorted(merged.items()):
        if key.startswith(("rec/train-", "rec/peer-")):
            run = key.removeprefix("rec/").removeprefix("train-")
            rows.append([run, *(_sig(_get(section, key, c)) for c in columns[1:])])
    if not rows:
        raise LmreproError("reports/metrics.json: no rec/train-* or rec/peer-* section")
    return rows


def _mta_methods(merged: dict, columns: tuple[str, ...]) -> list[list[Any]]:
    summary = _get(_need(merged, "mta/scores"), "mta/scores", "summary")
    return [[m, _sig(_get(summary, "mta/scores.summary", m, "macro", "mean"))] for m in sorted(summary)]


# The lines of the paper's figure: ProSG (end to end, gradient regression) against the prompt baselines
# and the bounds (controls, rank-2 and @eta variants stay in metrics.json: not in every run).
PROSG_SERIES = ("none", "random", "repeat", "oracle", "prosg", "prosg_sg")
PLOTS = (
    PlotSpec("prosg_accuracy_vs_distance", ("distance", *PROSG_SERIES), "distance", PROSG_SERIES, "linear",
             "ProSG: accuracy vs distance", _prosg_curve),
    PlotSpec("edge_accuracy_vs_ber", ("ber", "int8_bit_errors"), "ber", ("int8_bit_errors",), "linear",
             "Edge: macro accuracy vs bit-error rate (int8)", _edge_ber),
    PlotSpec("rec_test_hr10", ("run", "test_hr@10", "test_ndcg@10"), "test_hr@10", "run", "bar_horizontal_sorted",
             "Recommendation: test HR@10 per run", _rec_runs),
    PlotSpec("mta_macro_accuracy", ("method", "macro_accuracy"), "macro_accuracy", "method", "bar_horizontal_sorted",
             "MTA: macro accuracy per method (mean of seeds)", _mta_methods),
)
PLOT_BY_NAME = {p.name: p for p in PLOTS}


def headline_paths() -> list[str]:
    return [f"{HEADLINE_DIR}/{t}.json" for t in TRACKS]


def plot_paths() -> list[str]:
    return [f"{PLOTS_DIR}/{p.name}.csv" for p in PLOTS]


def dvc_plot_entry(path: str) -> dict:
    """dvc.yaml's top-level ``plots:`` entry for one of our plot files."""
    spec = PLOT_BY_NAME[Path(path).stem]
    y = list(spec.y) if isinstance(spec.y, tuple) else spec.y
    return {path: {"x": spec.x, "y": y, "template": spec.template, "title": spec.title}}


def _csv(header: tuple[str, ...], rows: list[list[Any]]) -> str:
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_views(merged: dict, claims: dict, headline_files: list[Path], plot_files: list[Path]) -> None:
    """Write the headline and plot files the evaluate stage was asked for (by file stem)."""
    for path in headline_files:
        io.write_json(headline(Path(path).stem, merged, claims), path)
    for path in plot_files:
        spec = PLOT_BY_NAME.get(Path(path).stem)
        if spec is None:
            raise LmreproError(f"{path}: no plot of that name (plots: {', '.join(PLOT_BY_NAME)})")
        io.write_text(_csv(spec.columns, spec.rows(merged, spec.columns)), path)
