"""Stage mta_eval: score every method's predictions per task and seed, summarise over
seeds, and write the deterministic metrics, the cost record, the table and the figure.

No wall time enters any output here (they would differ between identical runs); the
report reads the training stages' timing files itself (mta/report.py)."""

from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.mta import report
from lmrepro.mta.evaluate import score, summarize
from lmrepro.mta.schemas import Predictions, Scores
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_eval")
stage.add_argument("--preds", type=Path, nargs="+", required=True)
stage.add_argument("--runs", type=Path, nargs="+", required=True)
stage.add_argument("--scores", type=Path, required=True, help="reports/metrics/mta/scores.json (DVC metrics)")
stage.add_argument("--per-seed", type=Path, required=True, help="per (method, seed, task) scores, Parquet")
stage.add_argument("--runs-out", type=Path, required=True, help="reports/mta/runs.json (parameter counts, steps)")
stage.add_argument("--table", type=Path, required=True)
stage.add_argument("--figure", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    tasks = list(ctx.section("mta.data.tasks"))
    seeds = list(ctx.section("mta.seeds"))
    preds = [io.read_table(p, Predictions) for p in ctx.args.preds]
    scores = io.write_table(score(pd.concat(preds, ignore_index=True)), ctx.args.per_seed, Scores)
    for method, g in scores.groupby("method"):
        if sorted(g["seed"].unique()) != sorted(seeds):
            raise LmreproError(f"predictions of {method!r} have seeds {sorted(g['seed'].unique())}, expected {seeds}")
    summary = summarize(scores, tasks)
    runs = {}
    for path in ctx.args.runs:
        rec = io.read_json(path)
        runs[rec["method"]] = rec["runs"]
    mix = ctx.section("mta.mixture")
    data = ctx.section("mta.data")
    scale = {"backbone": ctx.section("mta.backbone"), "blocks": mix["blocks"], "bottleneck": mix["bottleneck"],
             "n_shared": mix["n_shared"], "temperature": mix["temperature"], "n_train": data["n_train"],
             "n_test": data["n_test"], "n_valid": data["n_valid"], "max_len": data["max_len"], "seeds": seeds}
    io.write_json({"tasks": tasks, "scale": scale, "summary": summary}, ctx.args.scores)
    io.write_json(runs, ctx.args.runs_out)
    io.write_text("# MTA: method x task\n\n" + report.table(summary, runs, tasks) + "\n", ctx.args.table)
    report.render_figure(summary, tasks, ctx.args.figure)
    for method, entry in summary.items():
        ctx.log.info("%s: macro %.3f ± %.3f", method, entry["macro"]["mean"], entry["macro"]["std"])
        ctx.log_metrics({f"{method}/macro": entry["macro"]["mean"]})


if __name__ == "__main__":
    stage.run()
