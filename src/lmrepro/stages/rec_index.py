"""Stage rec_index: one dataset x indexing variant -> the ID table of every user and item,
and its statistics (graph, and the ID tree's shape: indexing/tree_stats.py)."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.schemas import RecInteractions
from lmrepro.rec.data import subset_users
from lmrepro.rec.indexing import IndexConfig, build_index
from lmrepro.rec.indexing.tree_stats import USERS_IN_ITEM_TREE, tree_stats
from lmrepro.rec.schemas import IndexTable
from lmrepro.stage import Stage

stage = Stage(track="rec", name="rec_index", wildcards=("dataset", "method"))
stage.add_argument("--dataset", required=True)
stage.add_argument("--method", required=True, help="a variant under rec.index")
stage.add_argument("--interactions", type=Path, required=True)
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(IndexConfig, f"rec.index.{ctx.args.method}")
    sub = ctx.section("rec.subset")
    ctx.log_input(ctx.args.interactions, context="training")
    df = subset_users(io.read_table(ctx.args.interactions, RecInteractions), sub["max_users"], sub["seed"])
    ctx.log.info("%s/%s: %d users, %s", ctx.args.dataset, ctx.args.method, df["user"].nunique(), cfg)
    table, stats = build_index(df, cfg, ctx.seed)
    io.write_table(table, ctx.args.out, IndexTable)
    stats.update(tree_stats(table, df, users_in_item_tree=cfg.algorithm in USERS_IN_ITEM_TREE))
    ctx.log.info("stats %s", stats)
    ctx.log_metrics(stats)
    io.write_json(stats, ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
