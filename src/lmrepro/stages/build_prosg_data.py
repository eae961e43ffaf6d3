"""Stage build_prosg_data: the constructed prompt-forgetting set (prompt, filler, query)."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.schemas import TextCorpus
from lmrepro.prosg.dataset import DatasetConfig, generate
from lmrepro.prosg.schemas import ProsgExamples
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="build_prosg_data")
stage.add_argument("--corpus", type=Path, required=True, help="data/text/corpus.parquet (filler source)")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(DatasetConfig, "prosg.data")
    corpus = io.read_table(ctx.args.corpus, TextCorpus)
    ctx.log_input(ctx.args.corpus, context="filler")
    table = io.write_table(generate(cfg, corpus), ctx.args.out, ProsgExamples)
    counts = table.groupby(["split", "kind"]).size()
    metrics = {f"{split}.{kind}": int(n) for (split, kind), n in counts.items()}
    metrics["keys.train"] = int(table.loc[table.split == "train", "key"].nunique())
    metrics["keys.test"] = int(table.loc[table.split == "test", "key"].nunique())
    ctx.log.info("prosg data: %s", metrics)
    ctx.log_metrics({k.replace(".", "_"): v for k, v in metrics.items()})
    io.write_json(metrics, ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
