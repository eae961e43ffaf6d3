"""Stage edge_workload: parameters, weight reads and MACs per role for one model.

``--model albert-base-v2`` builds the workload from the ALBERT config in params (no
weights); ``--model ours`` from the ALTER track's trained bundle (--bundle).
"""

from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.edge import workload as W
from lmrepro.edge.schemas import Workload
from lmrepro.errors import LmreproError
from lmrepro.stage import Stage

MODELS = ("albert-base-v2", "ours")

stage = Stage(track="edge", name="edge_workload", wildcards=("model",))
stage.add_argument("--model", required=True, choices=MODELS)
stage.add_argument("--bundle", type=Path, default=None, help="MTA bundle folder (for --model ours)")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


def _cfg(section: dict, bottleneck: int) -> W.WorkloadConfig:
    keys = ("seq_len", "weight_bits", "adapters_per_layer", "num_labels", "shared_adapters")
    return W.WorkloadConfig(bottleneck=bottleneck, **{k: section[k] for k in keys})


@stage.main
def main(ctx) -> None:
    section = ctx.section("edge.workload")
    if ctx.args.model == "albert-base-v2":
        from transformers import AlbertConfig

        shape = W.shape_from_config(AlbertConfig(**section["albert"]))
        shape_info = {"hidden_size": shape.hidden_size, "num_hidden_layers": shape.num_hidden_layers}
        wl = pd.concat(
            [W.encoder_workload(ctx.args.model, shape, _cfg(section, m)) for m in section["bottlenecks"]],
            ignore_index=True,
        )
    else:
        if ctx.args.bundle is None:
            raise LmreproError("edge_workload --model ours needs --bundle (the MTA stage-2 output)")
        from lmrepro.mta.export import load_bundle

        ctx.log_input(ctx.args.bundle, context="model")
        bundle = load_bundle(ctx.args.bundle)
        bottleneck = int(bundle.config.get("mixture", {}).get("bottleneck", 0))
        wl = W.bundle_workload(ctx.args.model, bundle, _cfg(section, bottleneck))
        shape_info = {}
    wl = io.write_table(wl, ctx.args.out, Workload)
    metrics = {}
    for m, part in wl.groupby("bottleneck"):
        tot = W.totals(part)
        metrics[str(m)] = {**tot, **{f"params.{r}": float(v) for r, v in part.set_index("role").params.items()}}
    ctx.log.info("%s: %s", ctx.args.model, metrics)
    # the report states the workload from these numbers, never from typed constants
    io.write_json({"model": ctx.args.model, "by_bottleneck": metrics, "seq_len": int(section["seq_len"]), **shape_info},
                  ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
