"""Stage eval_prosg_long: score the long base of one seed (pretrain_rnn_long) on the test
split, without an update, with the prompt repeated, and with the main generator trained on
it (train_prosg_long). Methods are named long_none, long_repeat, long_prosg so that
summarize_prosg pools them with eval_prosg's and the claims can select them.

Nothing is chosen here, so the valid split is not read: the main generator has no test-time
step size to pick (it learns its update's scale) and its lr and steps are the validation
search's (made on the short base; lmrepro.prosg.long_base says why the long base exists).
"""

import time
from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.prosg.rwkv import freeze, load_model
from lmrepro.prosg.schemas import ProsgPredictions
from lmrepro.prosg.scoring import evaluate, method_none, method_prosg, method_repeat
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.synthetic_gradient import load_generator
from lmrepro.prosg.tokenizer import load_tokenizer
from lmrepro.runtime import seed_everything
from lmrepro.stage import Stage

PREFIX = "long_"  # method names of the long base: long_none, long_repeat, long_prosg

stage = Stage(track="prosg", name="eval_prosg_long", wildcards=("seed",))
stage.add_argument("--seed", type=int, required=True, help="one of prosg.seeds: the long base and generator scored")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--base", type=Path, required=True, help="pretrain_rnn_long's model folder of this seed")
stage.add_argument("--generator", type=Path, required=True, help="train_prosg_long's main generator of this seed")
stage.add_argument("--predictions", type=Path, required=True, help="per-item Parquet, as eval_prosg's")
stage.add_argument("--timing", type=Path, required=True,
                   help="wall-clock JSON (the only output that differs between identical runs)")
stage.add_argument("--metrics", type=Path, required=True, help="mean accuracy per method and distance")


@stage.main
def main(ctx) -> None:
    batch_size = int(ctx.section("prosg.eval.batch_size"))
    seed_everything(ctx.args.seed)
    model = freeze(load_model(ctx.args.base, device=ctx.device)[0])
    encoder = Encoder(load_tokenizer(ctx.args.base / "tokenizer.json"))
    test = read_examples(ctx.args.examples, "test")
    ctx.log_input(ctx.args.examples, context="evaluation")
    generator = load_generator(ctx.args.generator, model, ctx.device)
    methods = {f"{PREFIX}none": method_none(model), f"{PREFIX}repeat": method_repeat(model),
               f"{PREFIX}prosg": method_prosg(model, generator)}
    seconds, frames = {}, []
    for name, fn in methods.items():
        started = time.perf_counter()
        frames.append(evaluate({name: fn}, encoder, test, batch_size, progress=ctx.progress))
        seconds[name] = time.perf_counter() - started
    per_example = pd.concat(frames, ignore_index=True)
    io.write_table(per_example.assign(seed=ctx.args.seed, correct=per_example["correct"].astype(int))
                   [list(ProsgPredictions.to_schema().columns)], ctx.args.predictions, ProsgPredictions)
    acc = per_example.groupby(["method", "distance"])["correct"].mean()
    ctx.log_final({f"mean_accuracy_{m}_d{d}": float(v) for (m, d), v in acc.items()})
    io.write_json({"seed": ctx.args.seed, "examples": len(test),
                   "accuracy": {m: {str(int(d)): float(v) for (mm, d), v in acc.items() if mm == m} for m in methods}},
                  ctx.args.metrics)
    ctx.log_artifact(ctx.args.predictions, "predictions")
    io.write_json({"seconds": seconds, "examples": len(test), "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock on the machine that ran eval_prosg_long; not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
