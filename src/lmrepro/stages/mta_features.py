"""Stage mta_features: subsample + tokenize the NLU tasks and cache the frozen backbone's
output below the first adapter (computed once, reused by every adapter method). With
mta.mixture.blocks: chosen the first adapted block is the one the placement stage chose."""

import time
from pathlib import Path

from lmrepro import io
from lmrepro.mta.backbone import backbone_digest, resolve_backbone
from lmrepro.mta.data import n_labels
from lmrepro.mta.features import cache_key, compute_features
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.pipeline import Timing, blocks_used, save_tokens, subsample
from lmrepro.mta.schemas import Examples
from lmrepro.stage import Stage

stage = Stage(track="mta", name="mta_features")
stage.add_argument("--tasks-table", type=Path, required=True, help="data/nlu/tasks.parquet")
stage.add_argument("--examples", type=Path, required=True)
stage.add_argument("--tokens", type=Path, required=True)
stage.add_argument("--features", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True, help="reports/mta/timing/mta_features.json (wall times)")
stage.add_argument("--placement", type=Path, default=None,
                   help="data/mta/placement.json: the cache's split point when mta.mixture.blocks is chosen")


@stage.main
def main(ctx) -> None:
    timing = Timing("mta_features", ctx.threads, str(ctx.device))
    spec = ctx.section("mta.backbone")
    blocks = blocks_used(ctx)
    examples, encoder, encoded = subsample(ctx, ctx.args.tasks_table)
    examples = io.write_table(examples, ctx.args.examples, Examples)
    save_tokens(encoded, ctx.args.tokens)
    probe = MtaClassifier(encoder, n_labels(examples), MixtureConfig(blocks=blocks), "none")
    key = cache_key(backbone_digest(resolve_backbone(spec)), encoded.digest(), probe.first_adapted)
    start = time.perf_counter()
    feats = compute_features(probe, encoded, key, progress=ctx.progress)
    feats.save(ctx.args.features)
    seconds = time.perf_counter() - start
    ctx.log.info("cached %d examples, %d tokens, key %s, in %.1f s", len(encoded), encoded.offsets[-1], key, seconds)
    ctx.log_metrics({"examples": len(encoded), "tokens": int(encoded.offsets[-1]), "cache_seconds": seconds})
    timing.write(ctx.args.timing, cache_seconds=seconds)


if __name__ == "__main__":
    stage.run()
