"""Stage pretrain_rnn: tokenizer + RWKV base LM from scratch on corpus + task format, one
job per seed of prosg.seeds (the seed sets the model's init and the training batches)."""

import time
from pathlib import Path

from lmrepro import io
from lmrepro.data.schemas import TextCorpus
from lmrepro.prosg.pretrain import PretrainConfig, pretrain
from lmrepro.prosg.rwkv import RwkvModelConfig, build_model, save_model
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.tokenizer import TokenizerConfig, task_texts, train_tokenizer
from lmrepro.runtime import seed_everything
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="pretrain_rnn", wildcards=("seed",))
stage.add_argument("--seed", type=int, required=True, help="one of prosg.seeds")
stage.add_argument("--examples", type=Path, required=True, help="data/prosg/examples.parquet")
stage.add_argument("--corpus", type=Path, required=True, help="data/text/corpus.parquet")
stage.add_argument("--out", type=Path, required=True, help="model folder (safetensors, config, tokenizer)")
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True,
                   help="wall-clock JSON (the only output that differs between identical runs)")


@stage.main
def main(ctx) -> None:
    tok_cfg = ctx.config(TokenizerConfig, "prosg.tokenizer")
    model_cfg = ctx.config(RwkvModelConfig, "prosg.model")
    cfg = ctx.config(PretrainConfig, "prosg.pretrain")
    train = read_examples(ctx.args.examples, "train")  # never valid or test rows
    corpus = io.read_table(ctx.args.corpus, TextCorpus)
    ctx.log_input(ctx.args.examples, context="training")
    ctx.log_input(ctx.args.corpus, context="training")
    texts = corpus.loc[corpus["split"] == "train", "text"].tolist()
    seed_everything(ctx.args.seed)  # before the model is built: its init depends on the seed
    tok = train_tokenizer(texts + task_texts(train), tok_cfg)
    encoder = Encoder(tok)
    model = build_model(model_cfg, tok.get_vocab_size())
    started = time.perf_counter()
    curve = pretrain(model, encoder, train, texts, cfg, seed=ctx.args.seed, progress=ctx.progress, log=ctx.log.info,
                     device=ctx.device, amp=ctx.amp)
    seconds = time.perf_counter() - started
    for rec in curve:  # every optimizer step (sent in batches)
        ctx.log_metrics({"train/loss_task": rec["loss_task"], "train/loss_text": rec["loss_text"]}, step=rec["step"])
    save_model(model, model_cfg, tok.get_vocab_size(), ctx.args.out, tokenizer=tok)
    tail = curve[-10:]
    metrics = {
        "seed": ctx.args.seed,
        "vocab_size": tok.get_vocab_size(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "loss_task_last10": sum(r["loss_task"] for r in tail) / len(tail),
        "loss_text_last10": sum(r["loss_text"] for r in tail) / len(tail),
    }
    ctx.log_final(metrics)
    io.write_json(metrics, ctx.args.metrics)
    ctx.log_model(ctx.args.out, "prosg-base-rnn", "rnn-language-model", {"parameters": metrics["parameters"]})
    io.write_json({"seconds": seconds, "steps": len(curve), "steps_per_second": len(curve) / seconds,
                   "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock of the training loop on the machine that ran pretrain_rnn; not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
