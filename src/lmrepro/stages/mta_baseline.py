"""Stage mta_baseline: one baseline method (wildcard) over all seeds, on the same
subsample, seeds and features as MTA. AdapterFusion starts from the stage-1 adapters."""

from pathlib import Path

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.mta import methods
from lmrepro.mta.data import DataConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.pipeline import (Timing, features_for, load_adapters, load_inputs, log_training_inputs, mixture,
                                  precision_of, predictions, run_record, seed_log, seeds_with_search, stage_inputs, stage_of,
                                  write_predictions)
from lmrepro.mta.selection import ALL
from lmrepro.mta.train import TrainConfig
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_baseline", wildcards=("method",))
stage.add_argument("--method", required=True, choices=methods.BASELINES)
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--features", type=Path, required=True)
stage.add_argument("--stage1", type=Path, default=None, help="models/mta/stage1 (fusion only)")
stage.add_argument("--stage1-runs", type=Path, default=None, help="(fusion only)")
stage.add_argument("--preds", type=Path, required=True)
stage.add_argument("--runs", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_baseline-<method>.json")
stage.add_argument("--placement", type=Path, default=None,
                   help="data/mta/placement.json: needed when mta.mixture.blocks is chosen")


@stage.main
def main(ctx) -> None:
    method = ctx.args.method
    mix = mixture(ctx)
    cfg = ctx.config(TrainConfig, f"mta.baselines.{method}")
    timing = Timing(f"mta_baseline-{method}", ctx.threads, str(ctx.device))
    if method == "fusion" and (ctx.args.stage1 is None or ctx.args.stage1_runs is None):
        raise LmreproError("mta_baseline fusion needs --stage1 and --stage1-runs")
    log_training_inputs(ctx, ctx.args.examples, ctx.args.tokens,
                        *([ctx.args.features] if method not in ("single_ft", "multi_ft") else []),
                        *([ctx.args.stage1] if method == "fusion" else []))
    loaded = load_inputs(ctx.section("mta.backbone"), ctx.args.examples, ctx.args.tokens,
                         ctx.config(DataConfig, "mta.data").n_train)
    full_ft = method in ("single_ft", "multi_ft")
    # Full fine-tuning trains the lower blocks, so it cannot use the cache.
    inputs = stage_inputs(ctx, loaded, None if full_ft else features_for(loaded, ctx.args.features, mix.blocks))
    stage1_runs = io.read_json(ctx.args.stage1_runs)["runs"] if method == "fusion" else []
    frames, records = [], []

    def train_one(seed, lrs):
        log = seed_log(ctx, seed)
        if method == "single_ft":
            return methods.single_ft(loaded.encoder, loaded.data, inputs, mix, cfg, seed, ctx.progress, log, lrs)
        if method == "multi_ft":
            return methods.multi_ft(loaded.encoder, loaded.data, inputs, mix, cfg, seed, ctx.progress, log, lrs)
        if method == "fusion":
            init = MtaClassifier(loaded.encoder, loaded.data.n_labels, mix, "mixture").to(ctx.device)
            load_adapters(init, ctx.args.stage1 / f"seed{seed}.safetensors")
            return methods.joint_adapters("fusion", loaded.encoder, loaded.data, inputs, mix, cfg, seed,
                                          ctx.progress, init=init, log=log, lrs=lrs)
        kind = {"shared": "shared", "joint": "mixture"}[method]
        return methods.joint_adapters(kind, loaded.encoder, loaded.data, inputs, mix, cfg, seed, ctx.progress,
                                      log=log, lrs=lrs)

    units = list(loaded.data.n_labels) if method == "single_ft" else [ALL]
    for seed, result in seeds_with_search(ctx, cfg.lr, units, train_one):
        extra = [stage_of(stage1_runs, seed, "stage1")] if method == "fusion" else []
        frames.append(predictions(method, seed, result, loaded.data))
        records.append(run_record(seed, result, method, extra))
        timing.add(seed, method, result.search_seconds)
        ctx.log.info("%s seed %d: trained %d params in %.1f s", method, seed, result.trainable, result.search_seconds)
        ctx.log_metrics({"trainable": result.trainable, "seconds": result.search_seconds}, step=seed)
    write_predictions(frames, ctx.args.preds)
    io.write_json({"method": method, "precision": precision_of(inputs), "runs": records}, ctx.args.runs)
    timing.write(ctx.args.timing)
    ctx.log_artifact(ctx.args.preds, "predictions")


if __name__ == "__main__":
    stage.run()
