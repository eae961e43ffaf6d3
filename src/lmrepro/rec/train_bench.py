"""Training and decoding cost of the generative recommenders on ALL Beauty users (run
through `python -m lmrepro.rec.bench train`), for planning which grid fits the CPU budget.

Why CPU seconds: the machine that plans the grid is usually shared, and wall time under
load says little about an idle core; process CPU time of a single-threaded run does
(with more threads CPU time is summed over threads: compare wall times, on an idle machine).
What is timed is the real code: rec.train.train_step on batches drawn as training draws
them (seeded permutation), and rank_users (the trie-constrained beam search of the
evaluation) on the first users. A few warm-up steps are not timed; the epoch cost is the
mean step cost times the steps of an epoch. Geometries and training params come from a
params file (params.yaml by default); the IDs from a cheap indexing of the full data
(random by default: the same ID lengths as the other indexings' ~3 base-32 digits; SCI
IDs can be longer, and the cost grows with the target length)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmrepro import config as cfgmod
from lmrepro.rec.data import Catalog, user_sequences
from lmrepro.rec.examples import Encoded, eval_inputs, train_examples
from lmrepro.rec.indexing import IndexConfig, build_index
from lmrepro.rec.indexing.ids import parse_tokens
from lmrepro.rec.models.t5 import T5Geometry, build_t5, count_params, resolve
from lmrepro.rec.train import TrainConfig, batch_order, rank_users, train_step
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import Vocab


@dataclass(frozen=True)
class Cost:
    model: str
    setting: str
    params: int
    examples: int
    steps_per_epoch: int
    step_cpu_s: float  # mean CPU seconds per training step (timed steps only)
    step_wall_s: float  # mean wall seconds per step (meaningful on an idle machine only)
    epoch_cpu_s: float  # step_cpu_s x steps_per_epoch
    pad_share: float  # share of pad tokens in the timed batches (inputs + labels)
    decode_ms_per_user: float  # CPU ms per user, beam search over the whole trie
    decode_all_cpu_s: float  # valid + test lists of every user (the stage's final evaluation)


@dataclass
class Setup:
    cat: Catalog
    vocab: Vocab
    enc: Encoded
    trie: Trie
    train_seqs: list


def setup(df, method: str, params: dict, seed: int) -> Setup:
    """IDs of every user and item under rec.index.<method>, vocabulary, trie."""
    index, _ = build_index(df, cfgmod.from_dict(IndexConfig, params["rec"]["index"][method], f"rec.index.{method}"),
                           seed)
    cat = Catalog.from_interactions(df)
    _, user_ids = parse_tokens(index, "user")
    _, item_ids = parse_tokens(index, "item")
    vocab = Vocab.from_ids(user_ids + item_ids)
    enc = Encoded([vocab.encode(t) for t in user_ids], [vocab.encode(t) for t in item_ids])
    return Setup(cat, vocab, enc, Trie(enc.items, vocab.size), user_sequences(df, cat, ("train",)))


def geometry(params: dict, name: str, vocab_size: int) -> T5Geometry:
    """rec.model.<name> with `match` resolved as rec_train resolves it."""
    models = params["rec"]["model"]
    g = cfgmod.from_dict(T5Geometry, models[name], f"rec.model.{name}")
    if g.match:
        target = count_params(cfgmod.from_dict(T5Geometry, models[g.match], f"rec.model.{g.match}"), vocab_size)
        g = dataclasses.replace(g, match_params=target, match="")
    return resolve(g, vocab_size)


def _pad_share(batches) -> float:
    real = sum(len(x) + len(y) for b in batches for x, y in b)
    padded = sum(len(b) * (max(len(x) for x, _ in b) + max(len(y) for _, y in b)) for b in batches)
    return 1 - real / padded


def measure(su: Setup, params: dict, name: str, setting: str, steps: int = 40, warmup: int = 3,
            decode_users: int = 128, seed: int = 0, cfg: TrainConfig | None = None) -> Cost:
    """CPU cost of one epoch and of decoding every user for model `name` in `setting`,
    with rec.train from `params` unless `cfg` is given (e.g. another batch size or bucket)."""
    cfg = cfg or cfgmod.from_dict(TrainConfig, params["rec"]["train"], "rec.train")
    g = geometry(params, name, su.vocab.size)
    torch.manual_seed(seed)
    model = build_t5(g, su.vocab.size)
    examples = train_examples(su.train_seqs, su.enc, setting, cfg.history)
    gen = torch.Generator().manual_seed(seed)
    order = batch_order(examples, cfg, gen)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)  # constant: cost does not depend on it
    model.train()
    chosen = [[examples[i] for i in idx] for idx in order[: warmup + steps]]
    for b in chosen[:warmup]:
        train_step(model, b, opt, sched, cfg.clip, torch.device("cpu"))
    t, w = time.process_time(), time.perf_counter()
    for b in chosen[warmup:]:
        train_step(model, b, opt, sched, cfg.clip, torch.device("cpu"))
    step_s = (time.process_time() - t) / max(len(chosen) - warmup, 1)
    step_wall = (time.perf_counter() - w) / max(len(chosen) - warmup, 1)
    users = np.arange(min(decode_users, su.cat.n_users))
    inputs = eval_inputs(users, su.train_seqs, su.enc, setting, cfg.history)
    rank_users(model, inputs[: cfg.eval_batch], su.trie, cfg)  # warm-up
    t = time.process_time()
    rank_users(model, inputs, su.trie, cfg)
    per_user = (time.process_time() - t) / len(users)
    return Cost(name, setting, sum(p.numel() for p in model.parameters()), len(examples), len(order), step_s,
                step_wall, step_s * len(order), _pad_share(chosen[warmup:]), per_user * 1000, per_user * 2 * su.cat.n_users)


def load_params(path: Path | None) -> dict:
    from lmrepro.paths import repo_root

    return cfgmod.load_params(path or repo_root() / "params.yaml")
