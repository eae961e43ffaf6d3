"""Stage edge_robustness: accuracy of the trained MTA model with its backbone stored in eNVM
(int8, bitmask pruning, bit errors); adapters and heads stay exact.

Outputs: per-row predictions of every condition on the same rows (paired), the accuracy
table, metrics, the figure, and a separate timing file (the only output that varies
between two runs of the same commit, params and threads)."""

import time
from functools import partial
from pathlib import Path

from lmrepro import io
from lmrepro.data.schemas import NluExamples
from lmrepro.edge import figures
from lmrepro.edge import robustness as R
from lmrepro.edge.schemas import Robustness, RobustnessPredictions
from lmrepro.stage import Stage

stage = Stage(track="edge", name="edge_robustness")
stage.add_argument("--bundle", type=Path, required=True)
stage.add_argument("--nlu", type=Path, required=True)
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--predictions", type=Path, required=True, help="per-row outcomes (RobustnessPredictions)")
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--figure", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True, help="wall seconds (not a DVC metric)")

# papers.md section 4: multi-level-cell RRAM bit-error rates (NVMExplorer's fault model)
MLC_RATES = {"MLC RRAM 2 b/cell": (1.0e-8, 2.0e-8), "MLC RRAM 3 b/cell": (1.5e-4, 6.3e-3)}


@stage.main
def main(ctx) -> None:
    from lmrepro.mta.data import encode
    from lmrepro.mta.export import load_bundle

    started = time.perf_counter()
    sec = ctx.section("edge.robustness")
    cfg = R.RobustnessConfig(bit_error_rates=tuple(sec["bit_error_rates"]),
                             sparsities=tuple(ctx.section("edge.prune.sparsities")), seeds=tuple(sec["seeds"]),
                             max_per_task=sec["max_per_task"], sample_seed=sec["sample_seed"], split=sec["split"],
                             batch_size=sec["batch_size"])
    ctx.log_input(ctx.args.bundle, context="model")
    bundle = load_bundle(ctx.args.bundle)
    nlu = io.read_table(ctx.args.nlu, NluExamples)
    df = R.eval_frame(nlu, list(bundle.tasks), cfg)
    full = R.eval_frame(nlu, list(bundle.tasks), R.RobustnessConfig(max_per_task=0, split=cfg.split))
    ctx.log.info("evaluating %d of %d %s rows over %d tasks", len(df), len(full), cfg.split, df.task.nunique())
    texts = df if "text_b" in df.columns else df.assign(text_b=None)
    lengths = encode(texts, bundle.tokenizer, bundle.max_len).lengths()  # tokens per row, as the model sees it
    res = R.sweep(bundle.model, bundle.backbone_param_names(), partial(bundle.predict, batch_size=cfg.batch_size),
                  df, cfg, progress=ctx.progress, order=R.length_order(df["task"].to_numpy(), lengths))
    io.write_table(res.predictions, ctx.args.predictions, RobustnessPredictions)
    acc = io.write_table(res.accuracy, ctx.args.out, Robustness)
    summary = R.summarize(acc)
    figures.accuracy_vs_ber(summary, ctx.args.figure, MLC_RATES)
    metrics = {f"{r.condition}|s={r.sparsity:g}|ber={r.bit_error_rate:g}": {"mean": float(r.mean), "std": float(r.std),
                                                                          "n_seeds": int(r.n_seeds)}
               for r in summary.itertuples()}
    bits = acc.groupby("condition").stored_backbone_bits.max().to_dict()
    per_task = acc[acc.condition.isin(["fp32", "int8"])].pivot_table(index="task", columns="condition", values="value")
    io.write_json({"macro_accuracy": metrics, "stored_backbone_bits": {k: int(v) for k, v in bits.items()},
                   "per_task": {t: {c: float(v) for c, v in row.items()} for t, row in per_task.iterrows()},
                   "rows_per_task": int(df.groupby("task").size().max()),
                   "rows": {t: int(n) for t, n in df.groupby("task").size().items()},
                   "split_rows": {t: int(n) for t, n in full.groupby("task").size().items()},
                   "sample_seed": cfg.sample_seed, "tasks": sorted(df.task.unique())},
                  ctx.args.metrics)
    forward, cpu = sum(res.seconds.values()), sum(res.cpu_seconds.values())
    passes = len(res.seconds)
    per_row = forward / (passes * len(df)) if passes and len(df) else 0.0
    cpu_per_row = cpu / (passes * len(df)) if passes and len(df) else 0.0
    # wall time depends on the machine's load; process CPU time less so (1 thread: CPU ~ wall when idle)
    io.write_json({"threads": ctx.threads, "batch_size": cfg.batch_size, "rows": len(df), "split_rows": len(full), "forward_passes": passes,
                   "forward_seconds": forward, "forward_cpu_seconds": cpu,
                   "seconds_per_row_forward": per_row, "cpu_seconds_per_row_forward": cpu_per_row,
                   "full_split_forward_seconds_estimate": per_row * passes * len(full),
                   "full_split_forward_cpu_seconds_estimate": cpu_per_row * passes * len(full),
                   "stage_seconds_before_timing_write": time.perf_counter() - started,
                   "forward_seconds_by_point": res.seconds, "forward_cpu_seconds_by_point": res.cpu_seconds},
                  ctx.args.timing)
    ctx.log.info("forward passes: %d x %d rows in %.1f s wall, %.1f s CPU (%.2f CPU-ms/row); the full split "
                 "would take ~%.0f CPU-s", passes, len(df), forward, cpu, 1e3 * cpu_per_row, cpu_per_row * passes * len(full))
    ctx.log_metrics({k.replace("|", "_").replace("=", "_"): v["mean"] for k, v in metrics.items()})


if __name__ == "__main__":
    stage.run()
