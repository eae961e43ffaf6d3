"""Stage build_rec: one sequence dataset (an entry of params data.rec.sources) as an
interactions table with a leave-one-out split."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.catalog import rec_sources
from lmrepro.data.rec import leave_one_out, read_sequences, stats
from lmrepro.data.schemas import RecInteractions
from lmrepro.errors import LmreproError
from lmrepro.stage import Stage

stage = Stage(track="data", name="build_rec", wildcards=("dataset",))
stage.add_argument("--dataset", required=True, help="an entry of data.rec.sources")
stage.add_argument("--raw", type=Path, required=True, help="fetched rec folder (data/raw/rec)")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    datasets = ctx.section("data.rec.datasets")
    if ctx.args.dataset not in datasets:
        raise LmreproError(f"data.rec.datasets: {ctx.args.dataset!r} is not enabled ({datasets})")
    entry = rec_sources({ctx.args.dataset: ctx.section(f"data.rec.sources.{ctx.args.dataset}")})[ctx.args.dataset]
    source = ctx.args.raw / entry.file
    if not source.is_file():
        raise LmreproError(f"data.rec.sources.{ctx.args.dataset}.file: {source} not found; the manifest needs a "
                           f"line for rec/{entry.file} (fetched into {ctx.args.raw})")
    ctx.log_input(source, context="raw")
    table = leave_one_out(read_sequences(source))
    table = io.write_table(table, ctx.args.out, RecInteractions)
    s = stats(table)
    split_sizes = table["split"].value_counts().to_dict()
    metrics = {"users": s.users, "items": s.items, "interactions": s.interactions, **{f"{k}_rows": int(v) for k, v in split_sizes.items()}}
    ctx.log.info("%s: %s", ctx.args.dataset, metrics)
    ctx.log_metrics(metrics)
    io.write_json(metrics, ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
