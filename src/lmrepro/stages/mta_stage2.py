"""Stage mta_stage2: per seed, load the stage-1 adapters and train the mixture (gates and
shared adapters, optionally heads) jointly on all tasks with task-balanced sampling. Saves
the first seed's model as the bundle the edge track reads (models/mta/mta/)."""

from pathlib import Path

from lmrepro import io
from lmrepro.mta import methods
from lmrepro.mta.export import save_bundle
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.pipeline import (Timing, features_for, load_adapters, load_inputs, log_training_inputs, predictions,
                                  run_record, seed_log, stage_of, write_predictions)
from lmrepro.mta.train import Inputs
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_stage2")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--features", type=Path, required=True)
stage.add_argument("--stage1", type=Path, required=True, help="models/mta/stage1")
stage.add_argument("--stage1-runs", type=Path, required=True)
stage.add_argument("--bundle", type=Path, required=True, help="models/mta/mta")
stage.add_argument("--preds", type=Path, required=True)
stage.add_argument("--runs", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_stage2.json (wall times)")


@stage.main
def main(ctx) -> None:
    mix = ctx.config(MixtureConfig, "mta.mixture")
    cfg = ctx.config(methods.Stage2Config, "mta.stage2")
    timing = Timing("mta_stage2", ctx.threads, str(ctx.device))
    log_training_inputs(ctx, ctx.args.examples, ctx.args.tokens, ctx.args.features, ctx.args.stage1)
    loaded = load_inputs(ctx.section("mta.backbone"), ctx.args.examples, ctx.args.tokens)
    inputs = Inputs(loaded.encoded, features_for(loaded, ctx.args.features, mix.blocks), device=ctx.device, amp=ctx.amp)
    stage1_runs = io.read_json(ctx.args.stage1_runs)["runs"]
    frames, records = [], []
    for i, seed in enumerate(ctx.section("mta.seeds")):
        model = MtaClassifier(loaded.encoder, loaded.data.n_labels, mix, "mixture").to(ctx.device)
        load_adapters(model, ctx.args.stage1 / f"seed{seed}.safetensors")
        result = methods.stage2(model, loaded.data, inputs, cfg, seed, ctx.progress, seed_log(ctx, seed))
        frames.append(predictions("mta", seed, result, loaded.data))
        records.append(run_record(seed, result, "stage2", [stage_of(stage1_runs, seed, "stage1")]))
        timing.add(seed, "stage2", result.seconds)
        ctx.log.info("seed %d: stage 2 trained %d params in %.1f s", seed, result.trainable, result.seconds)
        ctx.log_metrics({"trainable": result.trainable, "seconds": result.seconds}, step=seed)
        if i == 0:
            save_bundle(ctx.args.bundle, result.model, loaded.tokenizer, int(ctx.section("mta.data.max_len")),
                        routing="gate", extra={"seed": seed, "backbone": ctx.section("mta.backbone")})
    write_predictions(frames, ctx.args.preds)
    io.write_json({"method": "mta", "runs": records}, ctx.args.runs)
    timing.write(ctx.args.timing)


if __name__ == "__main__":
    stage.run()
