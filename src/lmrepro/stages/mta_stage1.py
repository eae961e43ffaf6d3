"""Stage mta_stage1: per seed, train each task's own adapter and head on its task with the
backbone frozen (on cached features). Its predictions are the 'per-task adapters' baseline."""

from pathlib import Path

from lmrepro import io
from lmrepro.mta import methods
from lmrepro.mta.data import DataConfig
from lmrepro.mta.pipeline import (Timing, features_for, load_inputs, log_training_inputs, mixture, precision_of,
                                  predictions, run_record, save_adapters, seed_log, seeds_with_search, stage_inputs,
                                  write_predictions)
from lmrepro.mta.train import TrainConfig
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_stage1")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--features", type=Path, required=True)
stage.add_argument("--out-dir", type=Path, required=True, help="models/mta/stage1: seed<S>.safetensors")
stage.add_argument("--preds", type=Path, required=True)
stage.add_argument("--runs", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_stage1.json (wall times)")
stage.add_argument("--placement", type=Path, default=None,
                   help="data/mta/placement.json: needed when mta.mixture.blocks is chosen")


@stage.main
def main(ctx) -> None:
    mix = mixture(ctx)
    cfg = ctx.config(TrainConfig, "mta.stage1")
    timing = Timing("mta_stage1", ctx.threads, str(ctx.device))
    log_training_inputs(ctx, ctx.args.examples, ctx.args.tokens, ctx.args.features)
    loaded = load_inputs(ctx.section("mta.backbone"), ctx.args.examples, ctx.args.tokens,
                         ctx.config(DataConfig, "mta.data").n_train)
    inputs = stage_inputs(ctx, loaded, features_for(loaded, ctx.args.features, mix.blocks))
    frames, records = [], []
    with io.atomic_path(ctx.args.out_dir) as tmp:
        tmp.mkdir(parents=True)
        def train_one(seed, lrs):
            return methods.stage1(loaded.encoder, loaded.data, inputs, mix, cfg, seed, ctx.progress,
                                  seed_log(ctx, seed), lrs)

        for seed, result in seeds_with_search(ctx, cfg.lr, list(loaded.data.n_labels), train_one):
            save_adapters(result.model, tmp / f"seed{seed}.safetensors")
            frames.append(predictions("adapters", seed, result, loaded.data))
            records.append(run_record(seed, result, "stage1"))
            timing.add(seed, "stage1", result.search_seconds)
            ctx.log.info("seed %d: stage 1 trained %d params in %.1f s", seed, result.trainable, result.search_seconds)
            ctx.log_metrics({"trainable": result.trainable, "seconds": result.search_seconds}, step=seed)
    write_predictions(frames, ctx.args.preds)
    io.write_json({"method": "adapters", "precision": precision_of(inputs), "runs": records}, ctx.args.runs)
    timing.write(ctx.args.timing)
    ctx.log_artifact(ctx.args.preds, "predictions")
    ctx.log_model(ctx.args.out_dir, "mta-stage1-adapters", "mta-adapters", {"seeds": ctx.section("mta.seeds")})


if __name__ == "__main__":
    stage.run()
