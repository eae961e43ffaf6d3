"""Stage edge_robustness: accuracy of the trained MTA model with its backbone stored in eNVM
(int8, bitmask pruning, bit errors); adapters and heads stay exact."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.schemas import NluExamples
from lmrepro.edge import figures
from lmrepro.edge import robustness as R
from lmrepro.edge.schemas import Robustness
from lmrepro.stage import Stage

stage = Stage(track="edge", name="edge_robustness")
stage.add_argument("--bundle", type=Path, required=True)
stage.add_argument("--nlu", type=Path, required=True)
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--figure", type=Path, required=True)

# papers.md section 4: multi-level-cell RRAM bit-error rates (NVMExplorer's fault model)
MLC_RATES = {"MLC RRAM 2 b/cell": (1.0e-8, 2.0e-8), "MLC RRAM 3 b/cell": (1.5e-4, 6.3e-3)}


@stage.main
def main(ctx) -> None:
    from lmrepro.mta.export import load_bundle

    sec = ctx.section("edge.robustness")
    cfg = R.RobustnessConfig(bit_error_rates=tuple(sec["bit_error_rates"]),
                             sparsities=tuple(ctx.section("edge.prune.sparsities")), seeds=tuple(sec["seeds"]),
                             max_per_task=sec["max_per_task"], split=sec["split"])
    ctx.log_input(ctx.args.bundle, context="model")
    bundle = load_bundle(ctx.args.bundle)
    df = R.eval_frame(io.read_table(ctx.args.nlu, NluExamples), list(bundle.tasks), cfg)
    ctx.log.info("evaluating %d rows over %d tasks", len(df), df.task.nunique())
    res = R.sweep(bundle.model, bundle.backbone_param_names(), bundle.predict, df, cfg, progress=ctx.progress)
    res = io.write_table(res, ctx.args.out, Robustness)
    summary = R.summarize(res)
    figures.accuracy_vs_ber(summary, ctx.args.figure, MLC_RATES)
    metrics = {f"{r.condition}|s={r.sparsity:g}|ber={r.bit_error_rate:g}": {"mean": float(r.mean), "std": float(r.std),
                                                                          "n_seeds": int(r.n_seeds)}
               for r in summary.itertuples()}
    bits = res.groupby("condition").stored_backbone_bits.max().to_dict()
    per_task = res[res.condition.isin(["fp32", "int8"])].pivot_table(index="task", columns="condition", values="value")
    io.write_json({"macro_accuracy": metrics, "stored_backbone_bits": {k: int(v) for k, v in bits.items()},
                   "per_task": {t: {c: float(v) for c, v in row.items()} for t, row in per_task.iterrows()},
                   "rows_per_task": int(df.groupby("task").size().max()), "tasks": sorted(df.task.unique())},
                  ctx.args.metrics)
    ctx.log_metrics({k.replace("|", "_").replace("=", "_"): v["mean"] for k, v in metrics.items()})


if __name__ == "__main__":
    stage.run()
