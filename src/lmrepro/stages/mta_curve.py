"""Stage mta_curve: the learning curve of the cached-feature methods (per-task adapters and
two-stage MTA) over the training sizes ``mta.data.curve`` (and every training row with
``mta.curve.full``), scored on the full test split,
with its figure. The method comparison (mta_stage1, mta_stage2, mta_baseline) stays on the
``mta.data.n_train`` rows every method trains on; this curve is reported beside it."""

from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.data.schemas import NluExamples
from lmrepro.mta import curve, methods
from lmrepro.mta.data import DataConfig
from lmrepro.mta.pipeline import (Timing, cpu_bf16, features_for, load_inputs, log_training_inputs, mixture,
                                  stage_inputs)
from lmrepro.mta.schemas import CurveScores
from lmrepro.mta.selection import SearchConfig
from lmrepro.mta.train import TrainConfig
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_curve")
stage.add_argument("--tasks-table", type=Path, required=True, help="data/nlu/tasks.parquet (the full-data point)")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--features", type=Path, required=True)
stage.add_argument("--scores", type=Path, required=True, help="data/mta/curve.parquet (CurveScores)")
stage.add_argument("--figure", type=Path, required=True, help="reports/mta/curve.png")
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_curve.json (wall times)")
stage.add_argument("--placement", type=Path, default=None,
                   help="data/mta/placement.json: needed when mta.mixture.blocks is chosen")


@stage.main
def main(ctx) -> None:
    data_cfg = ctx.config(DataConfig, "mta.data")
    mix = mixture(ctx)
    stage1 = ctx.config(TrainConfig, "mta.stage1")
    stage2 = ctx.config(methods.Stage2Config, "mta.stage2")
    timing = Timing("mta_curve", ctx.threads, str(ctx.device))
    log_training_inputs(ctx, ctx.args.examples, ctx.args.tokens, ctx.args.features)
    loaded = load_inputs(ctx.section("mta.backbone"), ctx.args.examples, ctx.args.tokens)
    inputs = stage_inputs(ctx, loaded, features_for(loaded, ctx.args.features, mix.blocks))
    seeds = curve.first_seeds(list(ctx.section("mta.seeds")), int(ctx.section("mta.curve.seeds")))
    search = ctx.config(SearchConfig, "mta.search")
    scores = curve.run(loaded.encoder, loaded.examples, inputs, mix, stage1, stage2, data_cfg.curve,
                       seeds, ctx.progress, ctx.log_metrics, search)
    if ctx.section("mta.curve.full"):
        del inputs  # the shared cache; the full point computes its own
        ctx.log_input(ctx.args.tasks_table, context="source")
        table = io.read_table(ctx.args.tasks_table, NluExamples)
        examples, full_inputs = curve.full_point(loaded.encoder, loaded.tokenizer, table, data_cfg, mix,
                                                 cpu_bf16(ctx), ctx.progress)
        full = curve.run(loaded.encoder, examples, full_inputs, mix, stage1, stage2, (curve.FULL,), seeds,
                         ctx.progress, ctx.log_metrics, search)
        scores = pd.concat([scores, full], ignore_index=True)
    scores = io.write_table(scores, ctx.args.scores, CurveScores)
    for rec in curve.summary(scores).to_dict("records"):
        ctx.log.info("curve %s n=%d (%.0f rows/task): macro %.4f +- %.4f", rec["method"], rec["n_train"],
                     rec["rows"], rec["mean"], rec["std"])
    curve.render_figure(scores, ctx.args.figure)
    timing.write(ctx.args.timing)


if __name__ == "__main__":
    stage.run()
