"""Stage eval_prosg: score ProSG and its baselines on the test split, for one seed's base
LM and generators; the per-item predictions go to a per-seed Parquet that summarize_prosg
pools over seeds (tables, figure, CIs over seeds and items).

Outputs split by what they may contain: the predictions and metrics are functions of
(commit, params, threads) and so are byte-identical across runs; wall-clock times go to
``--timing`` alone.
"""

import time
from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.prosg.scoring import (
    EvalConfig,
    evaluate,
    method_none,
    method_oracle,
    method_prosg,
    method_prosg_other,
    method_random,
    method_repeat,
)
from lmrepro.prosg.rwkv import freeze, load_model
from lmrepro.prosg.schemas import ProsgPredictions
from lmrepro.prosg.selection import pick_eta, pick_oracle_lr, pick_rank
from lmrepro.prosg.splits import read_examples
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.synthetic_gradient import load_generator
from lmrepro.prosg.tokenizer import load_tokenizer
from lmrepro.runtime import seed_everything
from lmrepro.stage import Stage

stage = Stage(track="prosg", name="eval_prosg", wildcards=("seed",))
stage.add_argument("--seed", type=int, required=True, help="one of prosg.seeds: the base and generators scored")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--base", type=Path, required=True)
stage.add_argument("--generators", type=Path, nargs="+", required=True,
                   help="train_prosg output folders of this seed, named after their variant")
stage.add_argument("--predictions", type=Path, required=True,
                   help="per-item Parquet: one row per method x test item (prediction, answer, correct)")
stage.add_argument("--timing", type=Path, required=True,
                   help="wall-clock JSON (the only output that differs between identical runs)")
stage.add_argument("--metrics", type=Path, required=True,
                   help="the choices made on valid (the oracle's step size, the gradient-regression generator's "
                        "eta, the ProSG line's rank)")

REQUIRED = ("main", "sg", "shuffled")  # the figure's ProSG lines and the trained control


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(EvalConfig, "prosg.eval")
    seed_everything(ctx.args.seed)
    model = freeze(load_model(ctx.args.base, device=ctx.device)[0])
    encoder = Encoder(load_tokenizer(ctx.args.base / "tokenizer.json"))
    valid = read_examples(ctx.args.examples, "valid")  # tunes the oracle's step size
    test = read_examples(ctx.args.examples, "test")  # reported only
    ctx.log_input(ctx.args.examples, context="evaluation")
    generators = {folder.name: load_generator(folder, model, ctx.device) for folder in ctx.args.generators}
    for needed in REQUIRED:
        if needed not in generators:
            raise LmreproError(f"--generators: no folder named {needed!r} (prosg.variants.{needed})")

    started = time.perf_counter()
    # the ProSG line (method prosg, and the controls built from its generator) uses the rank
    # that scores best on valid; the other candidates are reported as prosg_<variant>
    rank_choice, rank_scores = pick_rank(model, generators, cfg.rank_candidates, encoder, valid, cfg.batch_size)
    ctx.log.info("ProSG line's rank variant on valid: %s -> %s", rank_scores, rank_choice)
    ctx.log_final({f"rank_valid_accuracy_{v}": s for v, s in rank_scores.items()})
    main_gen = generators[rank_choice]
    best_lr, lr_scores = pick_oracle_lr(model, main_gen.names, encoder, valid, cfg.oracle_lrs, cfg.batch_size)
    ctx.log.info("oracle step size on valid (%d items): %s -> %s", len(valid), lr_scores, best_lr)
    ctx.log_final({f"oracle_valid_accuracy_lr{lr:g}": s for lr, s in lr_scores.items()})
    sg_eta, sg_scores = pick_eta(model, generators["sg"], encoder, valid, cfg.oracle_lrs, cfg.batch_size)
    ctx.log.info("gradient-regression generator's step size on valid: %s -> %s", sg_scores, sg_eta)
    ctx.log_final({f"sg_valid_accuracy_eta{eta:g}": s for eta, s in sg_scores.items()})
    pick_seconds = time.perf_counter() - started
    # the random draws of the controls differ per seed, like everything else of seed s
    draw = cfg.random_seed + ctx.args.seed
    methods = {
        "none": method_none(model),
        "repeat": method_repeat(model),
        "oracle": method_oracle(model, main_gen.names, best_lr),
        "random": method_random(model, main_gen, draw),
        "prosg": method_prosg(model, main_gen),
        "prosg_sg": method_prosg(model, generators["sg"], eta=sg_eta),
        "prosg_other": method_prosg_other(model, main_gen, test, draw),
        "prosg_shuffled": method_prosg(model, generators["shuffled"]),
    }
    for name, gen in generators.items():
        if name not in ("sg", "shuffled", rank_choice):
            methods[f"prosg_{name}"] = method_prosg(model, gen)
    for scale in cfg.eta_scales:  # multipliers of the eta each line is scored with
        for name, key, eta in ((rank_choice, "prosg", main_gen.cfg.eta), ("sg", "prosg_sg", sg_eta)):
            methods[f"{key}@eta{scale:g}x"] = method_prosg(model, generators[name], eta=eta * scale)

    seconds, frames = {}, {}
    for name, fn in methods.items():
        started = time.perf_counter()
        frames[name] = evaluate({name: fn}, encoder, test, cfg.batch_size, progress=ctx.progress)
        seconds[name] = time.perf_counter() - started
    # every rank variant also under its own name (prosg_main, prosg_r2, ...), so the sweep's
    # methods are the same for every seed whichever rank each seed chose; the chosen one is a
    # copy of the ProSG line's outcomes, not a second scoring
    frames[f"prosg_{rank_choice}"] = frames["prosg"].assign(method=f"prosg_{rank_choice}")
    per_example = pd.concat(frames.values(), ignore_index=True)
    io.write_table(per_example.assign(seed=ctx.args.seed, correct=per_example["correct"].astype(int))
                   [list(ProsgPredictions.to_schema().columns)], ctx.args.predictions, ProsgPredictions)
    means = per_example.groupby("method")["correct"].mean()
    ctx.log_final({f"mean_accuracy_{m}": float(v) for m, v in means.items()})
    io.write_json({"seed": ctx.args.seed, "oracle_lr": best_lr, "valid_items": len(valid),
                   "rank_variant": rank_choice, "rank": main_gen.cfg.rank,
                   "rank_valid_accuracy": rank_scores,
                   "oracle_valid_accuracy": {f"{lr:g}": s for lr, s in lr_scores.items()},
                   "sg_eta": sg_eta, "sg_valid_accuracy": {f"{eta:g}": s for eta, s in sg_scores.items()}},
                  ctx.args.metrics)
    ctx.log_artifact(ctx.args.predictions, "predictions")
    base = seconds["none"]
    io.write_json({"seconds": seconds, "relative_to_no_update": {m: s / base for m, s in seconds.items()},
                   "oracle_lr_search_seconds": pick_seconds, "valid_examples": len(valid),
                   "examples": len(test), "threads": ctx.threads, "device": str(ctx.device),
                   "note": "wall-clock on the machine that ran eval_prosg; not a DVC metric"},
                  ctx.args.timing)


if __name__ == "__main__":
    stage.run()
