"""Stage train_prosg: train one ProSG generator variant on the frozen base LM of one seed
(the same seed draws the generator's init and its training batches)."""

import time
from pathlib import Path

import torch

from lmrepro import io
from lmrepro.config import from_dict
from lmrepro.prosg.rwkv import freeze, load_model
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator, save_generator
from lmrepro.prosg.tokenizer import load_tokenizer
from lmrepro.prosg.train import TrainConfig, train_generator
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="train_prosg", wildcards=("seed", "variant"))
stage.add_argument("--seed", type=int, required=True, help="one of prosg.seeds (the base was pre-trained with it)")
stage.add_argument("--variant", required=True, help="a key of prosg.variants")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--base", type=Path, required=True, help="pretrain_rnn's model folder")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True,
                   help="wall-clock JSON (the only output that differs between identical runs)")

UPDATE_KEYS = ("rank", "eta")  # variant keys that belong to the update, the rest to training


@stage.main
def main(ctx) -> None:
    variant = dict(ctx.section(f"prosg.variants.{ctx.args.variant}"))
    where = f"prosg.variants.{ctx.args.variant}"
    update = from_dict(ProsgConfig, {**ctx.section("prosg.update"), **{k: variant[k] for k in UPDATE_KEYS}}, where)
    train_cfg = from_dict(TrainConfig, {**ctx.section("prosg.train"),
                                        **{k: v for k, v in variant.items() if k not in UPDATE_KEYS}}, where)
    model, _ = load_model(ctx.args.base, device=ctx.device)
    model = freeze(model)
    encoder = Encoder(load_tokenizer(ctx.args.base / "tokenizer.json"))
    train = read_examples(ctx.args.examples, "train")  # never valid or test rows
    ctx.log_input(ctx.args.examples, context="training")
    torch.manual_seed(ctx.args.seed)
    generator = ProsgGenerator(model, update)
    started = time.perf_counter()
    curve = train_generator(model, generator, encoder, train, train_cfg, seed=ctx.args.seed, progress=ctx.progress,
                            log=ctx.log.info, amp=ctx.amp)
    seconds = time.perf_counter() - started
    for rec in curve:  # every optimizer step (sent in batches)
        ctx.log_metrics({f"train/{k}": v for k, v in rec.items() if k != "step"}, step=rec["step"])
    save_generator(generator, ctx.args.out)
    tail = curve[-10:]
    metrics = {f"{k}_last10": sum(r[k] for r in tail) / len(tail) for k in tail[0] if k != "step"}
    metrics["generator_parameters"] = sum(p.numel() for p in generator.parameters())
    metrics["update_parameters_per_matrix"] = {n: update.rank * (o + i) for n, (o, i) in generator.shapes.items()}
    ctx.log_final({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    io.write_json(metrics, ctx.args.metrics)
    ctx.log_model(ctx.args.out, f"prosg-{ctx.args.variant}", "prosg-generator", {"variant": ctx.args.variant})
    io.write_json({"seconds": seconds, "steps": len(curve), "steps_per_second": len(curve) / seconds,
                   "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock of the training loop on the machine that ran train_prosg; not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
