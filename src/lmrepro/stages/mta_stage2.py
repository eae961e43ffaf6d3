"""Stage mta_stage2: per seed, load the stage-1 adapters and train the mixture (gates and
shared adapters, optionally heads) jointly on all tasks with task-balanced sampling. Saves
the first seed's model as the bundle the edge track reads (models/mta/mta/).

The same module runs the stage-2 ablations (``--method``, see mta/gates.py RUNS): method
``mta_neutral`` first overwrites the gates stage 1 left (~0.94 on each task's own adapter)
with the start in ``mta.ablations.neutral_gate`` (equal weights on all adapters). Every run
records each seed's gate weights before its first and after its last step (``--gates``)."""

from pathlib import Path

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.mta import gates, methods
from lmrepro.mta.data import DataConfig
from lmrepro.mta.export import save_bundle
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.pipeline import (Timing, features_for, load_adapters, load_inputs, log_training_inputs, mixture,
                                  precision_of, predictions, run_record, seed_log, seeds_with_search, stage_inputs, stage_of,
                                  write_predictions)
from lmrepro.mta.selection import ALL
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_stage2", wildcards=("method",))
stage.add_argument("--method", choices=sorted(gates.RUNS), default="mta",
                   help="mta, or a stage-2 ablation (mta_neutral: neutral gate start)")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--features", type=Path, required=True)
stage.add_argument("--stage1", type=Path, required=True, help="models/mta/stage1")
stage.add_argument("--stage1-runs", type=Path, required=True)
stage.add_argument("--bundle", type=Path, help="models/mta/mta (first seed's model; only method mta writes one)")
stage.add_argument("--preds", type=Path, required=True)
stage.add_argument("--runs", type=Path, required=True)
stage.add_argument("--gates", type=Path, required=True, help="data/mta/gates/<method>.json (gate weights per seed)")
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/<stage>.json (wall times)")
stage.add_argument("--placement", type=Path, default=None,
                   help="data/mta/placement.json: needed when mta.mixture.blocks is chosen")


@stage.main
def main(ctx) -> None:
    run = gates.RUNS[ctx.args.method]
    if ctx.args.bundle is not None and run.method != "mta":
        raise LmreproError(f"--bundle: only method 'mta' writes the bundle the edge track reads, not {run.method!r}")
    mix = mixture(ctx)
    cfg = ctx.config(methods.Stage2Config, "mta.stage2")
    start = ctx.config(gates.GateStart, run.start_key) if run.start_key else None
    timing = Timing(run.timing_stage, ctx.threads, str(ctx.device))
    log_training_inputs(ctx, ctx.args.examples, ctx.args.tokens, ctx.args.features, ctx.args.stage1)
    loaded = load_inputs(ctx.section("mta.backbone"), ctx.args.examples, ctx.args.tokens,
                         ctx.config(DataConfig, "mta.data").n_train)
    inputs = stage_inputs(ctx, loaded, features_for(loaded, ctx.args.features, mix.blocks))
    stage1_runs = io.read_json(ctx.args.stage1_runs)["runs"]
    frames, records, gate_runs = [], [], []
    starts = {}

    def train_one(seed, lrs):
        model = MtaClassifier(loaded.encoder, loaded.data.n_labels, mix, "mixture").to(ctx.device)
        load_adapters(model, ctx.args.stage1 / f"seed{seed}.safetensors")
        if start is not None:
            gates.restart(model, start)
        starts[seed] = gates.weights(model)
        return methods.stage2(model, loaded.data, inputs, cfg, seed, ctx.progress, seed_log(ctx, seed), lrs)

    for i, (seed, result) in enumerate(seeds_with_search(ctx, cfg.lr, [ALL], train_one)):
        before, model = starts[seed], result.model
        gate_runs.append({"seed": seed, "start": before, "end": gates.weights(result.model)})
        frames.append(predictions(run.method, seed, result, loaded.data))
        records.append(run_record(seed, result, run.train_stage, [stage_of(stage1_runs, seed, "stage1")]))
        timing.add(seed, run.train_stage, result.search_seconds)
        ctx.log.info("seed %d: %s trained %d params in %.1f s; own-adapter weight %.3f -> %.3f", seed,
                     run.train_stage, result.trainable, result.seconds,
                     *(gates.own_weight(next(iter(g.values()))) for g in (before, gate_runs[-1]["end"])))
        ctx.log_metrics({"trainable": result.trainable, "seconds": result.search_seconds}, step=seed)
        if i == 0 and ctx.args.bundle is not None:
            save_bundle(ctx.args.bundle, result.model, loaded.tokenizer, int(ctx.section("mta.data.max_len")),
                        routing="gate", extra={"seed": seed, "backbone": ctx.section("mta.backbone")})
    write_predictions(frames, ctx.args.preds)
    io.write_json({"method": run.method, "precision": precision_of(inputs), "runs": records}, ctx.args.runs)
    gates.write(gates.record(run.method, model, gate_runs), ctx.args.gates)
    timing.write(ctx.args.timing)
    ctx.log_artifact(ctx.args.preds, "predictions")
    if ctx.args.bundle is not None:
        ctx.log_model(ctx.args.bundle, f"{run.method}-bundle", "mta-bundle",
                      {"method": run.method, "seed": ctx.section("mta.seeds")[0]})


if __name__ == "__main__":
    stage.run()
