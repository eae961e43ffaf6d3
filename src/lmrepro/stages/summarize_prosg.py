"""Stage summarize_prosg: pool eval_prosg's per-seed predictions into the track's tables.

Writes data/prosg/preds.parquet (every seed's per-item outcomes: what the claims read),
the accuracy table (mean over seeds and items, CI resampling both), the figure, the
Markdown tables and the metrics JSON the report reads. Byte-identical across runs: no
wall-clock here (eval_prosg's timing files hold it).
"""

from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.prosg import figures
from lmrepro.prosg.schemas import ProsgAccuracy, ProsgPredictions
from lmrepro.prosg.summary import accuracy_table, with_filler
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="summarize_prosg")
stage.add_argument("--predictions", type=Path, nargs="+", required=True, help="eval_prosg's per-seed Parquet files")
stage.add_argument("--evals", type=Path, nargs="+", required=True, help="eval_prosg's per-seed metrics JSON")
stage.add_argument("--pooled", type=Path, required=True, help="every seed's predictions in one Parquet")
stage.add_argument("--table", type=Path, required=True, help="accuracy Parquet")
stage.add_argument("--figure", type=Path, required=True)
stage.add_argument("--long-figure", type=Path, required=True, help="short vs long base figure")
stage.add_argument("--markdown", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    n_boot, boot_seed = int(ctx.section("claims.n_boot")), int(ctx.section("claims.seed"))
    seeds = [int(s) for s in ctx.section("prosg.seeds")]
    preds = pd.concat([io.read_table(p, ProsgPredictions) for p in ctx.args.predictions], ignore_index=True)
    found = sorted(int(s) for s in preds["seed"].unique())
    if found != sorted(seeds):
        raise LmreproError(f"--predictions hold seeds {found}, prosg.seeds is {sorted(seeds)}")
    preds = preds.sort_values(["seed", "method", "distance", "kind", "uid"]).reset_index(drop=True)
    io.write_table(preds, ctx.args.pooled, ProsgPredictions)
    acc = io.write_table(accuracy_table(preds, n_boot, boot_seed), ctx.args.table, ProsgAccuracy)
    missing = sorted(set(figures.LONG) - set(acc["method"]))
    if missing:
        raise LmreproError(f"--predictions: no long-base methods {missing} (eval_prosg_long's Parquet files)")
    figures.plot(acc, ctx.args.figure)
    figures.plot_bases(acc, ctx.args.long_figure)
    sweep = [m for m in sorted(acc["method"].unique()) if m not in figures.MAIN and m not in figures.LONG]
    bases = [m for pair in figures.LONG.items() for m in pair[::-1]]  # none, long_none, repeat, ...
    io.write_text(
        f"Pooled exact-match accuracy on the test split: mean over {len(seeds)} seeds (base and generators) and the "
        "test items, 95% CI resampling both, by filler distance (words).\n\n"
        + figures.table(acc, figures.MAIN) + "\nSweeps (rank variants trained separately; `@eta` rows rescale at test "
        "time the eta each line is scored with; each rank variant under its own name, one of them is the ProSG "
        "line of each seed):\n\n" + figures.table(acc, sweep)
        + "\nShort base vs long base (the same base continued on every distance; the long base's ProSG generator is "
        "the main variant, trained the same way on it):\n\n" + figures.table(acc, bases),
        ctx.args.markdown,
    )
    evals = sorted((io.read_json(p) for p in ctx.args.evals), key=lambda m: m["seed"])
    pooled = acc[acc["kind"] == "all"]
    metrics = {
        "seeds": seeds,
        "items_per_distance": {str(int(r.distance)): int(r.n) for r in pooled[pooled["method"] == "none"].itertuples()},
        "oracle_lr": {str(m["seed"]): m["oracle_lr"] for m in evals},
        "sg_eta": {str(m["seed"]): m["sg_eta"] for m in evals},
        "rank_variant": {str(m["seed"]): m["rank_variant"] for m in evals},
        "rank_valid_accuracy": {str(m["seed"]): m["rank_valid_accuracy"] for m in evals},
        "valid_items": evals[0]["valid_items"],
        "accuracy": {m: {str(int(r.distance)): r.accuracy for r in g.itertuples()} for m, g in pooled.groupby("method")},
        "ci": {m: {str(int(r.distance)): [r.ci_low, r.ci_high] for r in g.itertuples()} for m, g in pooled.groupby("method")},
        "with_filler": with_filler(preds, n_boot, boot_seed),
    }
    ctx.log_final({f"with_filler_{m}": v["mean"] for m, v in metrics["with_filler"].items()})
    io.write_json(metrics, ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
