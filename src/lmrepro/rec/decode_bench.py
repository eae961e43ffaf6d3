"""Decoding benchmark (run through `python -m lmrepro.rec.bench decode`): our batched
trie-constrained beam search vs transformers generate(prefix_allowed_tokens_fn=...) with
the same model, trie and beams. The model is a LightLM-geometry T5 with random weights
(throughput and equality of the lists do not depend on training); the trie holds every
Beauty item under its sequential ID (base-32 digits). Timings: best of `repeats` passes,
the two methods alternating, so load from other processes hits both alike."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from lmrepro.rec.beam_search import constrained_beam_search, hf_beam_search
from lmrepro.rec.indexing.sequential import sequential_ids
from lmrepro.rec.models.t5 import T5Geometry, build_t5, count_params
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import Vocab

GEOMETRY = T5Geometry(d_model=128, d_ff=16, num_layers=6, num_decoder_layers=6, num_heads=4, d_kv=32)


@dataclass(frozen=True)
class DecodeResult:
    users: int
    beams: int
    ours_s: float  # best-of wall time for all users
    hf_s: float
    identical: int  # users whose top-K item lists are identical
    max_score_diff: float
    invalid: int  # items outside the catalogue in our lists (must be 0)
    header: str

    @property
    def ratio(self) -> float:
        return self.hf_s / self.ours_s


def measure_decode(n_users: int, beams: int, batch: int = 64, repeats: int = 3) -> DecodeResult:
    from lmrepro.rec.bench_inputs import beauty_sequences
    from lmrepro.rec.data import Catalog, user_sequences

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    df = beauty_sequences()
    cat = Catalog.from_interactions(df)
    ids = sequential_ids(user_sequences(df, cat), cat.n_items, 32)
    vocab = Vocab.from_ids(ids)
    trie = Trie([vocab.encode(t) for t in ids], vocab.size)
    torch.manual_seed(0)
    model = build_t5(GEOMETRY, vocab.size).eval()
    rng = np.random.default_rng(0)
    # sequential-setting-like inputs: 5 random items' IDs
    inputs = torch.tensor(
        [sum((vocab.encode(ids[i]) for i in rng.integers(0, cat.n_items, 5)), []) + [1] for _ in range(n_users)]
    )
    mask = torch.ones_like(inputs)
    header = (f"model {count_params(GEOMETRY, vocab.size):,} params, trie {cat.n_items} items, depth {trie.depth}, "
              f"{n_users} users, {beams} beams, batch {batch}, 1 thread, best of {repeats}")
    fns = {"ours": constrained_beam_search, "transformers": hf_beam_search}
    best = {name: float("inf") for name in fns}
    outs = {}
    for name, fn in fns.items():
        fn(model, inputs[:2], mask[:2], trie, beams)  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            res = [fn(model, inputs[s : s + batch], mask[s : s + batch], trie, beams) for s in range(0, n_users, batch)]
            best[name] = min(best[name], time.perf_counter() - t)
            outs[name] = (torch.cat([o[0] for o in res]), torch.cat([o[1] for o in res]))
    (a, sa), (b, sb) = outs["ours"], outs["transformers"]
    return DecodeResult(
        users=n_users, beams=beams, ours_s=best["ours"], hf_s=best["transformers"],
        identical=int((a == b).all(dim=1).sum()), max_score_diff=float((sa - sb).abs().max()),
        invalid=int((a < 0).sum()), header=header,
    )


def bench_decode(n_users: int, beams: int, batch: int = 64, repeats: int = 3) -> DecodeResult:
    r = measure_decode(n_users, beams, batch, repeats)
    print(r.header)
    for name, secs in (("ours", r.ours_s), ("transformers", r.hf_s)):
        print(f"{name:>13}: {secs:.2f} s, {n_users / secs:.1f} users/s")
    print(f"identical top-{beams} lists: {r.identical}/{n_users} users; max |score diff| {r.max_score_diff:.2e}; "
          f"invalid items ours: {r.invalid}; throughput ratio {r.ratio:.1f}x (target >= 3x)")
    return r
