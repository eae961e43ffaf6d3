"""Stage tune_prosg: one trial of the ProSG generators' validation search (lmrepro.prosg.tuning).

Trains a family leader's generator with one learning rate on the base of prosg.tune.seed,
exactly as train_prosg would (same seed, init and batches), and scores it on the
validation split after every prosg.tune.every steps. The curve goes to MLflow and to the
metrics JSON that train_prosg selects from; the test split is never read.
"""

import dataclasses
import time
from pathlib import Path

import torch

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.prosg import tuning
from lmrepro.prosg.rwkv import freeze, load_model
from lmrepro.prosg.scoring import evaluate, method_prosg
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.synthetic_gradient import ProsgGenerator
from lmrepro.prosg.tokenizer import load_tokenizer
from lmrepro.prosg.train import train_generator, variant_configs
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="tune_prosg", wildcards=("variant", "lr"))
stage.add_argument("--variant", required=True, help="a family leader of prosg.tune.families")
stage.add_argument("--lr", type=float, required=True, help="one of prosg.tune.lrs")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--base", type=Path, required=True, help="pretrain_rnn's model folder of prosg.tune.seed")
stage.add_argument("--metrics", type=Path, required=True, help="the validation curve (train_prosg selects from it)")
stage.add_argument("--timing", type=Path, required=True,
                   help="wall-clock JSON (the only output that differs between identical runs)")


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(tuning.TuneConfig, "prosg.tune")
    name = ctx.args.variant
    if name not in cfg.families:
        raise LmreproError(f"--variant {name!r} leads no family of prosg.tune.families ({sorted(cfg.families)})")
    if not any(abs(ctx.args.lr - lr) <= 1e-12 * lr for lr in cfg.lrs):
        raise LmreproError(f"--lr {ctx.args.lr:g} is not in prosg.tune.lrs {cfg.lrs}")
    update, train_cfg = variant_configs(ctx.section("prosg.update"), ctx.section("prosg.train"),
                                        ctx.section(f"prosg.variants.{name}"), f"prosg.variants.{name}")
    train_cfg = dataclasses.replace(train_cfg, lr=ctx.args.lr)
    batch_size = int(ctx.section("prosg.eval.batch_size"))
    model = freeze(load_model(ctx.args.base, device=ctx.device)[0])
    encoder = Encoder(load_tokenizer(ctx.args.base / "tokenizer.json"))
    train = read_examples(ctx.args.examples, "train")
    valid = read_examples(ctx.args.examples, "valid")  # the only split a choice is made on
    ctx.log_input(ctx.args.examples, context="tuning")
    torch.manual_seed(cfg.seed)  # as train_prosg for seed cfg.seed: the same init and batches
    generator = ProsgGenerator(model, update)
    curve, scoring_seconds = [], 0.0

    def score(steps: int) -> None:
        nonlocal scoring_seconds
        t0 = time.perf_counter()
        res = evaluate({"prosg": method_prosg(model, generator)}, encoder, valid, batch_size)
        accuracy = float(res["correct"].mean())
        scoring_seconds += time.perf_counter() - t0
        curve.append({"steps": steps, "valid_accuracy": accuracy})
        ctx.log_metrics({"valid/accuracy": accuracy}, step=steps)
        ctx.log.info("lr %g, %d steps: valid accuracy %.3f (%d items)", ctx.args.lr, steps, accuracy, len(valid))

    started = time.perf_counter()
    losses = train_generator(model, generator, encoder, train, train_cfg, seed=cfg.seed, progress=ctx.progress,
                             log=ctx.log.info, amp=ctx.amp, checkpoints=tuning.checkpoints(train_cfg.steps, cfg.every),
                             on_checkpoint=score)
    seconds = time.perf_counter() - started
    for rec in losses:
        ctx.log_metrics({f"train/{k}": v for k, v in rec.items() if k != "step"}, step=rec["step"])
    trial = {"variant": name, "lr": ctx.args.lr, "seed": cfg.seed, "split": "valid", "valid_items": len(valid),
             "curve": curve}
    best = tuning.select([trial])  # this trial's best point, by the rule train_prosg applies across trials
    ctx.log_final({"best_valid_accuracy": best["valid_accuracy"], "best_steps": best["steps"]})
    io.write_json(trial, ctx.args.metrics)
    io.write_json({"seconds": seconds, "scoring_seconds": scoring_seconds, "steps": len(losses),
                   "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock of the trial (training and validation scoring); not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
