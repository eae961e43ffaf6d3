"""Stage rec_peer: classic peers on the same split, subset and full-ranking metrics as the
generative models: MostPop (no parameters) and SASRec (trained here, epoch selected on
validation HR@20, the same rule as rec_train) and the same candidates (rec.eval.exclude_history:
the user's seen items are not ranked, or everything is). SASRec runs on runtime.device (bf16 autocast
on CUDA with runtime.amp); MostPop is counting and needs no device.

--block names another params block of the same shape ({subset, sasrec, exclude_history}),
so the protocol check (rec.protocol_check: all users, TIGER protocol) runs this same code
with its own sample, SASRec setting and candidates; without it the stage reads rec.subset,
rec.peer.sasrec and rec.eval.exclude_history."""

import dataclasses
import time
from pathlib import Path

import pandas as pd
from safetensors.torch import save_file

from lmrepro import io
from lmrepro.data.schemas import RecInteractions
from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, heldout_items, interaction_matrix, subset_users, user_sequences
from lmrepro.rec.metrics import CUTOFFS, per_user_metrics, summarize, target_ranks
from lmrepro.rec.models.mostpop import mostpop_lists
from lmrepro.rec.models.sasrec import SasRecConfig, sasrec_topk, train_sasrec
from lmrepro.rec.schemas import UserMetrics
from lmrepro.rec.selection import series
from lmrepro.stage import Stage

PEERS = ("mostpop", "sasrec", "sasrec_paper")  # sasrec_paper: a second SASRec setting, protocol check only
K = max(CUTOFFS)  # list length: metrics stop at @20

stage = Stage(track="rec", name="rec_peer", wildcards=("dataset", "peer"))
stage.add_argument("--dataset", required=True)
stage.add_argument("--peer", required=True, choices=PEERS)
stage.add_argument("--interactions", type=Path, required=True)
stage.add_argument("--per-user", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--timing", type=Path, default=None, help="sasrec: training time (not a DVC metric)")
stage.add_argument("--model-dir", type=Path, default=None, help="sasrec: safetensors + config.json")
stage.add_argument("--block", default=None,
                   help="params block with subset, sasrec and exclude_history (e.g. rec.protocol_check)")


def _keys(block: str | None, peer: str = "sasrec") -> dict[str, str]:
    """The params keys of the sample, the SASRec setting (the block's key named after the
    peer: sasrec, or sasrec_paper in the protocol check) and the candidate rule."""
    if block is None:
        if peer == "sasrec_paper":
            raise LmreproError("rec_peer --peer sasrec_paper needs --block (e.g. rec.protocol_check)")
        return {"subset": "rec.subset", "sasrec": "rec.peer.sasrec", "exclude": "rec.eval.exclude_history"}
    return {"subset": f"{block}.subset", "sasrec": f"{block}.{peer if peer != 'mostpop' else 'sasrec'}",
            "exclude": f"{block}.exclude_history"}


def _mostpop(df, cat, ctx, exclude: bool):
    """-> per split: [U, K] lists (the items most bought so far, less the user's own if
    `exclude`)."""
    lists = {}
    for split, seen in (("valid", ("train",)), ("test", ("train", "valid"))):
        lists[split] = mostpop_lists(interaction_matrix(df, cat, seen), K, exclude)
    return lists, {"params": 0}


def _sasrec(df, cat, ctx, exclude: bool):
    a = ctx.args
    if a.model_dir is None or a.timing is None:
        raise LmreproError("rec_peer --peer sasrec needs --model-dir and --timing")
    cfg = ctx.config(SasRecConfig, _keys(a.block, a.peer)["sasrec"])
    train = user_sequences(df, cat, ("train",))
    valid_t = heldout_items(df, cat, "valid")

    def validate(model):
        ranks = target_ranks(sasrec_topk(model, train, K, amp=ctx.amp, exclude_history=exclude), valid_t)
        return summarize(per_user_metrics(cat.users, ranks))

    ctx.log.info("sasrec on device %s (amp %s)", ctx.device, ctx.amp)
    cpu0 = time.process_time()  # CPU seconds: the cost on an idle machine, whatever the load
    model, summary = train_sasrec(train, cat.n_items, validate, cfg, ctx.seed,
                                  log=lambda m, step: ctx.log_metrics(series(m), step), device=ctx.device, amp=ctx.amp)
    seen_valid = user_sequences(df, cat, ("train", "valid"))
    lists = {"valid": sasrec_topk(model, train, K, amp=ctx.amp, exclude_history=exclude),
             "test": sasrec_topk(model, seen_valid, K, amp=ctx.amp, exclude_history=exclude)}
    n_params = sum(p.numel() for p in model.parameters())
    a.model_dir.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(a.model_dir / "model.safetensors") as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    io.write_json({"sasrec": dataclasses.asdict(cfg), "n_items": cat.n_items},
                  a.model_dir / "config.json")
    io.write_json({"train_seconds": summary["train_seconds"], "train_cpu_seconds": time.process_time() - cpu0,
                   "threads": ctx.threads, "curve": summary["curve"]}, a.timing)
    ctx.log_model(a.model_dir, f"{a.peer.replace('_', '-')}-{a.dataset}", "sasrec",
                  {"dataset": a.dataset, "params": n_params, "best_epoch": summary["best_epoch"]})
    return lists, {"params": n_params, "best_epoch": summary["best_epoch"]}


@stage.main
def main(ctx) -> None:
    a = ctx.args
    keys = _keys(a.block, a.peer)
    sub = ctx.section(keys["subset"])
    ctx.log_input(a.interactions, context="training")
    df = subset_users(io.read_table(a.interactions, RecInteractions), sub["max_users"], sub["seed"])
    cat = Catalog.from_interactions(df)
    exclude = bool(ctx.section(keys["exclude"]))
    ctx.log.info("%s/%s: %d users, %d items, exclude_history %s", a.dataset, a.peer, cat.n_users, cat.n_items, exclude)
    lists, metrics = (_mostpop if a.peer == "mostpop" else _sasrec)(df, cat, ctx, exclude)
    metrics["users"] = cat.n_users
    frames = []
    for split in ("valid", "test"):
        per_user = per_user_metrics(cat.users, target_ranks(lists[split], heldout_items(df, cat, split)))
        frames.append(per_user.assign(split=split))
        metrics.update({f"{split}_{m}": v for m, v in summarize(per_user).items()})
    per_user = pd.concat(frames, ignore_index=True)
    io.write_table(per_user[["split", *per_user.columns[:-1]]], a.per_user, UserMetrics)
    ctx.log.info("metrics %s", metrics)
    ctx.log_final(metrics)
    io.write_json(metrics, a.metrics)
    ctx.log_artifact(a.per_user, "predictions")


if __name__ == "__main__":
    stage.run()
