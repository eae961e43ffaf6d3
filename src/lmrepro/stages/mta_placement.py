"""Stage mta_placement: choose the adapters' placement (top 1, 2 or 3 blocks) on validation
with the stage-1 adapters of the first seed (mta/placement.py). Reads no test row; writes
data/mta/placement.json, which mta_eval reports beside the method table and which every
adapter stage trains at when mta.mixture.blocks is ``chosen``.

Why it subsamples and tokenizes the tasks table itself instead of reading mta_features'
examples and tokens: with ``blocks: chosen`` the feature cache is split at the block this
stage chooses, so mta_features comes after it. Both call pipeline.subsample on the same
mta.data, so they hold the same rows (tests/mta/test_mta_placement.py)."""

from pathlib import Path

from lmrepro import io
from lmrepro.config import from_dict
from lmrepro.mta.data import DataConfig
from lmrepro.mta.methods import Task
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.pipeline import Timing, cpu_bf16, subsample
from lmrepro.mta.placement import CHOSEN, PlacementConfig, search
from lmrepro.mta.train import TrainConfig
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_placement")
stage.add_argument("--tasks-table", type=Path, required=True, help="data/nlu/tasks.parquet")
stage.add_argument("--out", type=Path, required=True, help="data/mta/placement.json")
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_placement.json (wall times)")


@stage.main
def main(ctx) -> None:
    section = dict(ctx.section("mta.mixture"))
    setting = section["blocks"]
    mix = from_dict(MixtureConfig, {**section, "blocks": 1}, where="mta.mixture")  # search sets blocks per candidate
    cfg = ctx.config(TrainConfig, "mta.stage1")
    data_cfg = ctx.config(DataConfig, "mta.data")
    placement = ctx.config(PlacementConfig, "mta.placement")
    timing = Timing("mta_placement", ctx.threads, str(ctx.device))
    examples, encoder, encoded = subsample(ctx, ctx.args.tasks_table)
    seed = ctx.section("mta.seeds")[0]
    record = search(encoder, encoded, Task.from_examples(examples, data_cfg.n_train), mix, cfg, seed,
                    placement.candidates, ctx.progress, ctx.log_metrics, timing, cpu_bf16(ctx))
    record["blocks_setting"] = setting
    record["used"] = int(record["chosen"]) if setting == CHOSEN else int(setting)
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
