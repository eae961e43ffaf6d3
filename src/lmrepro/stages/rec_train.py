"""Stage rec_train: train one generative recommender (dataset x indexing x model x
setting), select the epoch on validation HR@20, then evaluate valid and test with
trie-constrained beam search (without the user's seen items under
rec.eval.exclude_history). Training and evaluation share one stage because the
evaluation needs the trie, vocabulary and selected weights already in memory; the model
is still saved (safetensors + JSON config) for reuse. Runs on runtime.device (bf16 autocast
on CUDA with runtime.amp); the saved weights are always CPU tensors."""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

from lmrepro import io
from lmrepro.data.schemas import RecInteractions
from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, heldout_items, subset_users, user_sequences
from lmrepro.rec.examples import Encoded, eval_inputs, train_examples
from lmrepro.rec.indexing.ids import parse_tokens
from lmrepro.rec.metrics import per_user_metrics, summarize
from lmrepro.rec.protocol import unseen_test_share
from lmrepro.rec.models.t5 import T5Geometry, build_t5, count_params, resolve
from lmrepro.rec.schemas import IndexTable, UserMetrics
from lmrepro.rec.selection import series
from lmrepro.rec.train import TrainConfig, evaluate, train_seq2seq
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import Vocab
from lmrepro.stage import Stage

stage = Stage(track="rec", name="rec_train", wildcards=("dataset", "method", "model", "setting"))
for _w in ("dataset", "method", "model", "setting"):
    stage.add_argument(f"--{_w}", required=True)
stage.add_argument("--interactions", type=Path, required=True)
stage.add_argument("--index", type=Path, required=True)
stage.add_argument("--model-dir", type=Path, required=True)
stage.add_argument("--per-user", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--timing", type=Path, required=True)


def geometry(ctx, name: str) -> T5Geometry:
    g = ctx.config(T5Geometry, f"rec.model.{name}")
    if g.match:
        if g.match == name:
            raise LmreproError(f"rec.model.{name}.match: a model cannot match itself")
        g = dataclasses.replace(g, match_params=-1)  # resolved below with the vocab size
    return g


@stage.main
def main(ctx) -> None:
    a = ctx.args
    cfg = ctx.config(TrainConfig, "rec.train")
    sub = ctx.section("rec.subset")
    ctx.log_input(a.interactions, context="training")
    ctx.log_input(a.index, context="index")
    df = subset_users(io.read_table(a.interactions, RecInteractions), sub["max_users"], sub["seed"])
    index = io.read_table(a.index, IndexTable)
    cat = Catalog.from_interactions(df)
    users, user_ids = parse_tokens(index, "user")
    items, item_ids = parse_tokens(index, "item")
    if not (np.array_equal(users, cat.users) and np.array_equal(items, cat.items)):
        raise LmreproError(f"{a.index}: its users/items differ from {a.interactions} under rec.subset")
    vocab = Vocab.from_ids(user_ids + item_ids)
    enc = Encoded([vocab.encode(t) for t in user_ids], [vocab.encode(t) for t in item_ids])
    trie = Trie(enc.items, vocab.size)

    g = geometry(ctx, a.model)
    if g.match_params < 0:
        target = count_params(ctx.config(T5Geometry, f"rec.model.{g.match}"), vocab.size)
        g = dataclasses.replace(g, match_params=target)
    g = resolve(g, vocab.size)
    torch.manual_seed(ctx.seed)
    model = build_t5(g, vocab.size)
    n_params = sum(p.numel() for p in model.parameters())
    ctx.log.info("model %s: %s, vocab %d, %d params", a.model, g, vocab.size, n_params)

    train_seqs = user_sequences(df, cat, ("train",))
    seen_valid = user_sequences(df, cat, ("train", "valid"))
    examples = train_examples(train_seqs, enc, a.setting, cfg.history)
    all_users = np.arange(cat.n_users)
    sel_users = all_users
    if 0 < cfg.valid_users < cat.n_users:
        sel_users = np.sort(np.random.default_rng(ctx.seed).choice(all_users, cfg.valid_users, replace=False))
    valid_t = heldout_items(df, cat, "valid")
    test_t = heldout_items(df, cat, "test")
    sel_inputs = eval_inputs(sel_users, train_seqs, enc, a.setting, cfg.history)
    exclude = bool(ctx.section("rec.eval.exclude_history"))
    sel_seen = [train_seqs[u] for u in sel_users] if exclude else None

    def validate(m):
        return evaluate(m, sel_inputs, valid_t[sel_users], cat.users[sel_users], trie, cfg, amp=ctx.amp,
                        exclude=sel_seen)[1]

    ctx.log.info("%d training examples, %d selection users, device %s (amp %s), exclude_history %s",
                 len(examples), len(sel_users), ctx.device, ctx.amp, exclude)
    best, summary = train_seq2seq(
        model, examples, validate, cfg, ctx.seed, log=lambda m, step: ctx.log_metrics(series(m), step),
        progress=ctx.progress, device=ctx.device, amp=ctx.amp,
    )
    model.load_state_dict(best)
    frames = []
    t0 = time.perf_counter()
    # valid is decoded on the selection users only (its job is selection; on all Beauty users
    # it would double the final decoding), test on every user
    for split, users, seqs, targets in (("valid", sel_users, train_seqs, valid_t), ("test", all_users, seen_valid, test_t)):
        inputs = eval_inputs(users, seqs, enc, a.setting, cfg.history)
        per_user, _ = evaluate(model, inputs, targets[users], cat.users[users], trie, cfg, amp=ctx.amp,
                               exclude=[seqs[u] for u in users] if exclude else None)
        frames.append(per_user.assign(split=split))
    latency_ms = (time.perf_counter() - t0) / (len(sel_users) + cat.n_users) * 1000
    per_user = pd.concat(frames, ignore_index=True)
    io.write_table(per_user[["split", *per_user.columns[:-1]]], a.per_user, UserMetrics)
    metrics = {"params": n_params, "best_epoch": summary["best_epoch"], "users": cat.n_users,
               "valid_users": len(sel_users), "unseen_test_share": unseen_test_share(df)}
    for split in ("valid", "test"):
        metrics.update({f"{split}_{k}": v for k, v in summarize(per_user[per_user.split == split]).items()})
    ctx.log.info("metrics %s", metrics)
    ctx.log_final(metrics)
    io.write_json(metrics, a.metrics)
    ctx.log_artifact(a.per_user, "predictions")
    io.write_json({"train_seconds": summary["train_seconds"], "latency_ms_per_user": latency_ms,
                   "curve": summary["curve"]}, a.timing)
    a.model_dir.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(a.model_dir / "model.safetensors") as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in best.items()}, str(tmp))
    io.write_json({"geometry": dataclasses.asdict(g), "vocab_level_sizes": list(vocab.level_sizes),
                   "setting": a.setting, "history": cfg.history, "t5": json.loads(model.config.to_json_string())},
                  a.model_dir / "config.json")
    ctx.log_model(a.model_dir, f"{a.model}-{a.dataset}-{a.method}-{a.setting}", "t5-generative-recommender",
                  {"dataset": a.dataset, "method": a.method, "model": a.model, "setting": a.setting,
                   "params": n_params, "best_epoch": summary["best_epoch"]})


if __name__ == "__main__":
    stage.run()
