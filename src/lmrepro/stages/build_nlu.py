"""Stage build_nlu: the nine NLU tasks as one table, with per-task counts and label balance."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.nlu import NluConfig, build_nlu, counts
from lmrepro.data.schemas import NluExamples
from lmrepro.stage import Stage

stage = Stage(track="data", name="build_nlu")
stage.add_argument("--raw", type=Path, required=True, help="fetched nlu folder (data/raw/nlu)")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--counts", type=Path, required=True, help="Markdown table of counts and label balance")
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(NluConfig, "data.nlu")
    table = io.write_table(build_nlu(ctx.args.raw, cfg), ctx.args.out, NluExamples)
    summary = counts(table)
    io.write_text(
        "# NLU tasks: examples per split and label balance\n\n"
        "majority_share = share of the most frequent label (0.5 = balanced binary task).\n\n"
        + summary.to_markdown(index=False) + "\n",
        ctx.args.counts,
    )
    metrics = {f"{r.task}.{r.split}.examples": int(r.examples) for r in summary.itertuples()}
    metrics |= {f"{r.task}.{r.split}.majority_share": float(r.majority_share) for r in summary.itertuples()}
    ctx.log_metrics({k.replace(".", "/"): v for k, v in metrics.items()})
    io.write_json(metrics, ctx.args.metrics)
    ctx.log_artifact(ctx.args.counts)


if __name__ == "__main__":
    stage.run()
