"""Stage build_corpus: the English text as documents with a held-out split."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.corpus import CorpusConfig, build_corpus
from lmrepro.data.schemas import TextCorpus
from lmrepro.stage import Stage

stage = Stage(track="data", name="build_corpus")
stage.add_argument("--raw", type=Path, required=True, help="fetched text folder (data/raw/text)")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(CorpusConfig, "data.corpus")
    table = io.write_table(build_corpus(ctx.args.raw, cfg), ctx.args.out, TextCorpus)
    chars = table.assign(chars=table["text"].str.len()).groupby("split")["chars"].sum()
    docs = table.groupby("split").size()
    metrics = {f"{split}.documents": int(docs[split]) for split in docs.index}
    metrics |= {f"{split}.characters": int(chars[split]) for split in chars.index}
    ctx.log.info("corpus: %s", metrics)
    ctx.log_metrics({k.replace(".", "_"): v for k, v in metrics.items()})
    io.write_json(metrics, ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
