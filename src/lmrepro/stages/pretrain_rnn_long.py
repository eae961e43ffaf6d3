"""Stage pretrain_rnn_long: the long base of one seed, i.e. that seed's pretrain_rnn base
continued on every distance up to prosg.long_base.max_distance (lmrepro.prosg.long_base
says why), with the same tokenizer. Its forgetting and the ProSG gain on it are what is
left once the base has practised long inputs."""

import time
from pathlib import Path

from lmrepro import io
from lmrepro.data.schemas import TextCorpus
from lmrepro.prosg.long_base import LongBaseConfig, continue_pretrain
from lmrepro.prosg.rwkv import load_model, save_model
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.tokenizer import load_tokenizer
from lmrepro.runtime import seed_everything
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="pretrain_rnn_long", wildcards=("seed",))
stage.add_argument("--seed", type=int, required=True, help="one of prosg.seeds")
stage.add_argument("--base", type=Path, required=True, help="pretrain_rnn's model folder of this seed")
stage.add_argument("--examples", type=Path, required=True, help="data/prosg/examples.parquet")
stage.add_argument("--corpus", type=Path, required=True, help="data/text/corpus.parquet")
stage.add_argument("--out", type=Path, required=True, help="model folder (safetensors, config, tokenizer)")
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True,
                   help="wall-clock JSON (the only output that differs between identical runs)")


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(LongBaseConfig, "prosg.long_base")
    train = read_examples(ctx.args.examples, "train")  # never valid or test rows
    corpus = io.read_table(ctx.args.corpus, TextCorpus)
    ctx.log_input(ctx.args.examples, context="training")
    ctx.log_input(ctx.args.corpus, context="training")
    texts = corpus.loc[corpus["split"] == "train", "text"].tolist()
    seed_everything(ctx.args.seed)
    model, model_cfg = load_model(ctx.args.base, device=ctx.device)
    tok = load_tokenizer(ctx.args.base / "tokenizer.json")
    encoder = Encoder(tok)
    started = time.perf_counter()
    curve = continue_pretrain(model, encoder, train, texts, cfg, seed=ctx.args.seed, progress=ctx.progress,
                              log=ctx.log.info, device=ctx.device, amp=ctx.amp)
    seconds = time.perf_counter() - started
    for rec in curve:  # every optimizer step (sent in batches)
        ctx.log_metrics({"train/loss_task": rec["loss_task"], "train/loss_text": rec["loss_text"],
                         "train/distance": rec["distance"]}, step=rec["step"])
    save_model(model, model_cfg, tok.get_vocab_size(), ctx.args.out, tokenizer=tok)
    tail = curve[-10:]
    steps_at = {}
    for rec in curve:
        steps_at[str(rec["distance"])] = steps_at.get(str(rec["distance"]), 0) + 1
    metrics = {
        "seed": ctx.args.seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": len(curve),
        "steps_per_distance": steps_at,
        "loss_task_last10": sum(r["loss_task"] for r in tail) / len(tail),
        "loss_text_last10": sum(r["loss_text"] for r in tail) / len(tail),
    }
    ctx.log_final({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    io.write_json(metrics, ctx.args.metrics)
    ctx.log_model(ctx.args.out, "prosg-long-base-rnn", "rnn-language-model", {"parameters": metrics["parameters"]})
    io.write_json({"seconds": seconds, "steps": len(curve), "steps_per_second": len(curve) / seconds,
                   "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock of the training loop on the machine that ran pretrain_rnn_long; not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
