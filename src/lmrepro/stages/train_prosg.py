"""Stage train_prosg: train one ProSG generator variant on the frozen base LM of one seed
(the same seed draws the generator's init and its training batches), with the lr and
steps its family's validation search chose (tune_prosg's trials, lmrepro.prosg.tuning).
Rules train_prosg (the short base) and train_prosg_long (the long base, main only) both
run it; on the long base the search's choice, made on the short base, is reused as is."""

import dataclasses
import time
from pathlib import Path

import torch

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.prosg import tuning
from lmrepro.prosg.rwkv import freeze, load_model
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.synthetic_gradient import ProsgGenerator, save_generator
from lmrepro.prosg.tokenizer import load_tokenizer
from lmrepro.prosg.train import train_generator, variant_configs
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
stage.add_argument("--trials", type=Path, nargs="+", required=True,
                   help="tune_prosg metrics (every family's; this variant's family's give its lr and steps)")
stage.add_argument("--label", default=None,
                   help="name of the logged model, prosg-<label> (default: the variant); the long base's "
                        "generators say so here, the MLflow tag lmrepro.base names the base folder")


@stage.main
def main(ctx) -> None:
    name = ctx.args.variant
    variants = dict(ctx.section("prosg.variants"))
    leader = tuning.family_of(dict(ctx.section("prosg.tune.families")), list(variants))[name]
    if variants[name]["steps"] != variants[leader]["steps"]:
        raise LmreproError(f"prosg.variants.{name}.steps ({variants[name]['steps']}) must equal its family leader's "
                           f"prosg.variants.{leader}.steps ({variants[leader]['steps']}): both are the search's limit")
    trials = [t for t in (io.read_json(path) for path in ctx.args.trials) if t["variant"] == leader]
    if not trials:
        raise LmreproError(f"--trials holds no trial of {leader!r}, whose family {name!r} is in "
                           f"({', '.join(map(str, ctx.args.trials))})")
    chosen = tuning.select(trials)
    update, train_cfg = variant_configs(ctx.section("prosg.update"), ctx.section("prosg.train"), variants[name],
                                        f"prosg.variants.{name}")
    train_cfg = dataclasses.replace(train_cfg, lr=chosen["lr"], steps=chosen["steps"])
    ctx.log.info("lr %g and %d steps, chosen on %s (%d items, base seed %d) by %r's search: accuracy %.3f",
                 chosen["lr"], chosen["steps"], chosen["split"], chosen["valid_items"], chosen["seed"], leader,
                 chosen["valid_accuracy"])
    ctx.set_tags({"lmrepro.tuned_by": leader, "lmrepro.base": ctx.args.base.as_posix()})
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
    metrics = {f"{k}_last10": sum(r[k] for r in tail) / len(tail) for k in tail[0] if k not in ("step", "distance")}
    metrics["tuned"] = chosen
    metrics["generator_parameters"] = sum(p.numel() for p in generator.parameters())
    metrics["update_parameters_per_matrix"] = {n: update.rank * (o + i) for n, (o, i) in generator.shapes.items()}
    ctx.log_final({**{k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                   "tuned_lr": chosen["lr"], "tuned_steps": chosen["steps"]})
    io.write_json(metrics, ctx.args.metrics)
    ctx.log_model(ctx.args.out, f"prosg-{ctx.args.label or ctx.args.variant}", "prosg-generator",
                  {"variant": ctx.args.variant})
    io.write_json({"seconds": seconds, "steps": len(curve), "steps_per_second": len(curve) / seconds,
                   "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock of the training loop on the machine that ran train_prosg; not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
