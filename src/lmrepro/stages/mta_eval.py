"""Stage mta_eval: score every method's predictions per task and seed, summarise over
seeds, and write the deterministic metrics, the cost record, the table and the figure;
for the stage-2 runs (mta and its ablations) also the paired per-task change over the
stage-1 adapters (scores.json ``stage2_change``) and the gate weights at the start and end
of stage 2, mean over seeds (reports/mta/gates.json, reports/mta/gates.png).

No wall time enters any output here (they would differ between identical runs); the
report reads the training stages' timing files itself (mta/report.py)."""

from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.mta import gates, report
from lmrepro.mta.pipeline import blocks_used
from lmrepro.mta.scoring import paired_change, score, summarize
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
stage.add_argument("--gates", type=Path, nargs="+", required=True, help="data/mta/gates/<method>.json of the stage-2 runs")
stage.add_argument("--gates-out", type=Path, required=True, help="reports/mta/gates.json (mean over seeds)")
stage.add_argument("--gates-figure", type=Path, required=True, help="reports/mta/gates.png")
stage.add_argument("--placement", type=Path, default=None, help="data/mta/placement.json (rule mta_placement)")


def gate_summary(paths: list[Path], methods: set[str], tasks: list[str], seeds: list[int]) -> dict:
    """{method: gates.mean_over_seeds} for every stage-2 run; each record must match the
    predictions (one per stage-2 method among them), the tasks and the seeds."""
    out = {}
    for path in paths:
        rec = gates.read(path)
        method = rec["method"]
        if method not in gates.RUNS or method in out:
            raise LmreproError(f"{path}: method {method!r} is not a stage-2 run or appears twice "
                               f"(expected one record each of {sorted(gates.RUNS)})")
        if rec["tasks"] != tasks:
            raise LmreproError(f"{path}: tasks {rec['tasks']}, expected mta.data.tasks {tasks}")
        if sorted(int(r["seed"]) for r in rec["runs"]) != sorted(seeds):
            raise LmreproError(f"{path}: seeds {[r['seed'] for r in rec['runs']]}, expected {seeds}")
        out[method] = gates.mean_over_seeds(rec)
    expected = methods & set(gates.RUNS)
    if set(out) != expected:
        raise LmreproError(f"gate records for {sorted(out)} but stage-2 predictions for {sorted(expected)}: "
                           "pass one --gates file per stage-2 run")
    return out


def test_rows(preds: pd.DataFrame, tasks: list[str]) -> dict[str, int]:
    """{task: test examples scored}; every method and seed must have scored the same ones."""
    counts = preds.groupby(["method", "seed", "task"]).size().unstack("task")
    if counts.isna().any().any() or (counts.nunique() > 1).any():
        raise LmreproError("predictions: methods/seeds scored different numbers of test examples per task")
    return {t: int(counts[t].iloc[0]) for t in tasks}


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
    runs, precisions = {}, {}
    for path in ctx.args.runs:
        rec = io.read_json(path)
        runs[rec["method"]] = rec["runs"]
        precisions[rec["method"]] = rec.get("precision", "unrecorded")  # run records before mta.precision auto
    mix = ctx.section("mta.mixture")
    data = ctx.section("mta.data")
    scale = {"backbone": ctx.section("mta.backbone"), "blocks": blocks_used(ctx), "bottleneck": mix["bottleneck"],
             "n_shared": mix["n_shared"], "temperature": mix["temperature"], "n_train": data["n_train"],
             "n_test": data["n_test"], "n_valid": data["n_valid"], "max_len": data["max_len"], "seeds": seeds,
             "test_rows": test_rows(pd.concat(preds, ignore_index=True), tasks),
             "lr_scales": list(ctx.section("mta.search.lr_scales")), "precision": report.precision_used(precisions),
             "precision_requested": ctx.section("mta.precision")}
    if ctx.args.placement is not None:
        scale["placement"] = io.read_json(ctx.args.placement)
    gate_means = gate_summary(ctx.args.gates, set(summary), tasks, seeds)
    change = {m: paired_change(scores, tasks, m, "adapters") for m in gates.RUNS if m in summary and "adapters" in summary}
    io.write_json({"tasks": tasks, "scale": scale, "summary": summary, report.CHANGE_KEY: change}, ctx.args.scores)
    io.write_json(runs, ctx.args.runs_out)
    chosen = report.selection_table(summary, runs)
    where = report.placement_text(scale, runs)
    io.write_text("# MTA: method x task\n\n" + report.table(summary, runs, tasks) + "\n"
                  + (f"\n## Settings chosen on validation\n\n{chosen}\n" if chosen else "")
                  + (f"\n{where}\n" if where else ""), ctx.args.table)
    report.render_figure(summary, tasks, ctx.args.figure)
    io.write_json(gate_means, ctx.args.gates_out)
    gates.render_figure(gate_means, ctx.args.gates_figure)
    for method, entry in gate_means.items():
        first = next(iter(entry["blocks"].values()))
        ctx.log.info("%s gates: own-adapter weight %.3f -> %.3f, largest change %.3f", method,
                     gates.own_weight(first["start"]), gates.own_weight(first["end"]), gates.largest_change(entry))
    for method, entry in summary.items():
        ctx.log.info("%s: macro %.3f ± %.3f", method, entry["macro"]["mean"], entry["macro"]["std"])
        ctx.log_metrics({f"{method}/macro": entry["macro"]["mean"]})


if __name__ == "__main__":
    stage.run()
