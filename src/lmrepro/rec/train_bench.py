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
IDs can be longer, and the cost grows with the target length).

measure_speedup / speedup_row: the training speed-up of the fast configuration (larger
batches + length buckets, rec.train.batch_size / rec.train.bucket) over the official one,
as one ratio measured in one run (issue 13): both train the same number of examples,
their steps interleaved so that drift in the machine's load hits both alike."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmrepro import config as cfgmod
from lmrepro.errors import LmreproError
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


@dataclass(frozen=True)
class Throughput:
    """Training throughput of one configuration, from its timed steps only."""

    batch_size: int
    bucket: int  # rec.train.bucket: 0 = the official order
    steps: int  # timed steps
    examples: int  # timed training examples (steps x batch_size: full batches only)
    cpu_s: float  # process CPU seconds of the timed steps
    wall_s: float  # wall seconds (meaningful on an idle machine only)
    pad_share: float  # share of pad tokens in the timed batches (inputs + labels)
    epoch_examples: int  # training examples of one epoch

    @property
    def examples_per_s(self) -> float:
        return self.examples / self.cpu_s

    @property
    def epoch_cpu_s(self) -> float:
        return self.epoch_examples / self.examples_per_s


@dataclass(frozen=True)
class Speedup:
    reference: Throughput
    candidate: Throughput

    @property
    def ratio(self) -> float:
        """Candidate examples/s over reference examples/s (same examples timed: = CPU-s ratio)."""
        return self.candidate.examples_per_s / self.reference.examples_per_s


@dataclass
class _Side:
    """One configuration under test: its own model and optimizer, its batches in order."""

    cfg: TrainConfig
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object
    batches: list
    cpu_s: float = 0.0
    wall_s: float = 0.0


def measure_speedup(su: Setup, params: dict, name: str, setting: str, history: int,
                    reference: tuple[int, int] = (64, 0), candidate: tuple[int, int] = (256, 50),
                    rounds: int = 16, warmup_rounds: int = 1, threads: int = 1, seed: int = 0) -> Speedup:
    """Training throughput of (batch size, bucket) `candidate` vs `reference` for model
    `name` in `setting` at `history`, the rest of rec.train from `params`.

    Both sides train the SAME examples: a seeded sample of rounds x lcm(batch sizes) of the
    epoch's examples, each side batching it as training does (rec.train.batch_order on the
    sample: the official order cuts it into consecutive batches; a bucket pools up to
    bucket x batch size of them, so a sample smaller than one pool is one pool). Why the
    same sample: bucketed batches range from a few tokens to the longest histories, so a
    few dozen of them drawn from the whole epoch give a noisy mean (x3 between draws of 24);
    on one sample the ratio compares like with like. Each round trains lcm(batch sizes)
    examples per side (e.g. 4 steps of 64 and 1 of 256), the sides alternating which goes
    first, so drift in the machine's load hits both alike; `warmup_rounds` more rounds on
    other examples come first, untimed. Each side has its own model (same seeded init) and
    AdamW, stepped by the real rec.train.train_step; CPU time at `threads` torch threads."""
    if rounds < 1 or warmup_rounds < 0:
        raise LmreproError(f"train speed-up bench: rounds={rounds} (>= 1), warmup_rounds={warmup_rounds} (>= 0)")
    base = cfgmod.from_dict(TrainConfig, params["rec"]["train"], "rec.train")
    cfgs = [dataclasses.replace(base, history=history, batch_size=b, bucket=k) for b, k in (reference, candidate)]
    examples = train_examples(su.train_seqs, su.enc, setting, history)
    per_round = math.lcm(*(c.batch_size for c in cfgs))
    n_warm, n_timed = warmup_rounds * per_round, rounds * per_round
    if n_warm + n_timed > len(examples):
        raise LmreproError(f"train speed-up bench: {warmup_rounds}+{rounds} rounds of {per_round} examples need "
                           f"{n_warm + n_timed}, the data has {len(examples)}")
    perm = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed)).tolist()
    parts = [[examples[i] for i in perm[:n_warm]], [examples[i] for i in perm[n_warm : n_warm + n_timed]]]
    g = geometry(params, name, su.vocab.size)
    sides = []
    for cfg in cfgs:
        batches = []
        for part in parts:  # n_warm and n_timed are multiples of the batch size: full batches only
            batches += [[part[i] for i in idx] for idx in batch_order(part, cfg, torch.Generator().manual_seed(seed))]
        torch.manual_seed(seed)
        model = build_t5(g, su.vocab.size).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)  # constant: cost does not depend on it
        sides.append(_Side(cfg, model, opt, sched, batches))
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for r in range(warmup_rounds + rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                k = per_round // side.cfg.batch_size
                t, w = time.process_time(), time.perf_counter()
                for b in side.batches[r * k : (r + 1) * k]:
                    train_step(side.model, b, side.opt, side.sched, side.cfg.clip, torch.device("cpu"))
                if r >= warmup_rounds:
                    side.cpu_s += time.process_time() - t
                    side.wall_s += time.perf_counter() - w
    finally:
        torch.set_num_threads(threads_before)
    out = []
    for side in sides:
        timed = side.batches[n_warm // side.cfg.batch_size :]
        out.append(Throughput(side.cfg.batch_size, side.cfg.bucket, len(timed), sum(map(len, timed)), side.cpu_s,
                              side.wall_s, _pad_share(timed), len(examples)))
    return Speedup(*out)


# Measured 2026-12-02 (2-core machine, nothing else heavy), SCI IDs: at the default profile's history 5,
# 1.69x (347 -> 585 examples/s; pad share 0.41 -> 0.10); at history 20, 2.96x (62 -> 185; pads 0.70 -> 0.12),
# in line with the padded input tokens of an epoch. Target with a margin, for the default's history 5:
SPEEDUP_TARGET = 1.4
QUICK_TARGET = 1.2  # quick mode (history 5, few steps): measured ~1.6x


def speedup_row(quick: bool = False):
    """For `make bench` (rec.bench.run): LightLM (rec.model.lightlm), sequential setting,
    SCI IDs (rec.index.sci on all Beauty users, ~7 CPU s), batch 256 + bucket 50 vs the
    official batch 64 in the official order. Non-quick: the default profile's rec.train
    (history, batch size, bucket), 16 rounds of lcm(batch sizes) examples (~1-2 CPU min);
    quick: history 5, 3 rounds (~15 s)."""
    from lmrepro.measure import BenchResult
    from lmrepro.rec.bench_inputs import beauty_sequences

    params = load_params(None)
    train = params["rec"]["train"]
    history, rounds = (5, 3) if quick else (train["history"], 16)
    su = setup(beauty_sequences(), "sci", params, 0)
    s = measure_speedup(su, params, "lightlm", "sequential", history, rounds=rounds,
                        candidate=(train["batch_size"], train["bucket"]))
    ref, cand = s.reference, s.candidate
    lens = [len(x) for x in su.enc.items]
    note = (f"CPU time, 1 thread, the same {cand.examples} examples per side (seeded sample, one bucket pool), "
            f"steps interleaved; examples/s {ref.examples_per_s:.0f} -> {cand.examples_per_s:.0f}, "
            f"epoch ({ref.epoch_examples:,} examples) "
            f"{ref.epoch_cpu_s:.0f} -> {cand.epoch_cpu_s:.0f} CPU s, pad share {ref.pad_share:.2f} -> "
            f"{cand.pad_share:.2f}; SCI item IDs {np.mean(lens):.1f} tokens (max {max(lens)}); "
            "batch 256 changes the optimisation (lr)")
    return BenchResult(
        "rec", f"LightLM training, sequential, history {history}: batch {cand.batch_size} + bucket {cand.bucket} "
        f"vs batch {ref.batch_size} official order (examples/s)", cand.examples_per_s, ref.examples_per_s,
        "examples/s", QUICK_TARGET if quick else SPEEDUP_TARGET, higher_is_better=True, note=note)


def load_params(path: Path | None) -> dict:
    from lmrepro.paths import repo_root

    return cfgmod.load_params(path or repo_root() / "params.yaml")


if __name__ == "__main__":
    import sys

    from lmrepro.measure import markdown_table

    print(markdown_table([speedup_row(quick="--quick" in sys.argv[1:])]))
