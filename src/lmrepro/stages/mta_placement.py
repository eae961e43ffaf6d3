"""Stage mta_placement: choose the adapters' placement (top 1, 2 or 3 blocks) on validation
with the stage-1 adapters of the first seed (mta/placement.py). Reads no test row; writes
data/mta/placement.json, which mta_eval reports beside the method table."""

from pathlib import Path

from lmrepro import io
from lmrepro.mta.data import DataConfig
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.pipeline import Timing, cpu_bf16, load_inputs, log_training_inputs
from lmrepro.mta.placement import PlacementConfig, search
from lmrepro.mta.train import TrainConfig
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_placement")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--out", type=Path, required=True, help="data/mta/placement.json")
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_placement.json (wall times)")


@stage.main
def main(ctx) -> None:
    mix = ctx.config(MixtureConfig, "mta.mixture")
    cfg = ctx.config(TrainConfig, "mta.stage1")
    placement = ctx.config(PlacementConfig, "mta.placement")
    timing = Timing("mta_placement", ctx.threads, str(ctx.device))
    log_training_inputs(ctx, ctx.args.examples, ctx.args.tokens)
    loaded = load_inputs(ctx.section("mta.backbone"), ctx.args.examples, ctx.args.tokens,
                         ctx.config(DataConfig, "mta.data").n_train)
    seed = ctx.section("mta.seeds")[0]
    record = search(loaded.encoder, loaded.encoded, loaded.data, mix, cfg, seed, placement.candidates,
                    ctx.progress, ctx.log_metrics, timing, cpu_bf16(ctx))
    record["used"] = int(mix.blocks)
    for k, entry in record["candidates"].items():
        ctx.log.info("placement top %s: macro valid %.4f", k, entry["valid"])
        ctx.log_metrics({f"placement/valid/top{k}": entry["valid"]})
    ctx.log_metrics({"placement/chosen": record["chosen"], "placement/used": record["used"]})
    ctx.log.info("placement: validation chooses the top %d block(s); the comparison uses %d", record["chosen"],
                 record["used"])
    io.write_json(record, ctx.args.out)
    timing.write(ctx.args.timing)


if __name__ == "__main__":
    stage.run()
