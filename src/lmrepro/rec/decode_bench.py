"""Decoding benchmark (run through `python -m lmrepro.rec.bench decode`): our batched
trie-constrained beam search vs transformers generate(prefix_allowed_tokens_fn=...) with
the same model, trie and beams. The model is a LightLM-geometry T5 with random weights
(throughput and equality of the lists do not depend on training); the trie holds every
Beauty item under its sequential ID (base-32 digits)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from lmrepro.rec.beam_search import constrained_beam_search, hf_beam_search
from lmrepro.rec.indexing.sequential import sequential_ids
from lmrepro.rec.models.t5 import T5Geometry, build_t5, count_params
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import Vocab

GEOMETRY = T5Geometry(d_model=128, d_ff=16, num_layers=6, num_decoder_layers=6, num_heads=4, d_kv=32)


def bench_decode(n_users: int, beams: int, batch: int = 64) -> None:
    from lmrepro.rec.bench import _beauty
    from lmrepro.rec.data import Catalog, user_sequences

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    df = _beauty()
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
    print(f"model {count_params(GEOMETRY, vocab.size):,} params, trie {cat.n_items} items, "
          f"depth {trie.depth}, {n_users} users, {beams} beams, batch {batch}, 1 thread")
    results = {}
    for name, fn in (("ours", constrained_beam_search), ("transformers", hf_beam_search)):
        fn(model, inputs[:2], mask[:2], trie, beams)  # warm-up
        t = time.perf_counter()
        outs = [fn(model, inputs[s : s + batch], mask[s : s + batch], trie, beams) for s in range(0, n_users, batch)]
        secs = time.perf_counter() - t
        results[name] = (torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs]), secs)
        print(f"{name:>13}: {secs:.2f} s, {n_users / secs:.1f} users/s")
    a, sa, ta = results["ours"]
    b, sb, tb = results["transformers"]
    same = (a == b).all(dim=1)
    print(f"identical top-{beams} lists: {int(same.sum())}/{n_users} users; "
          f"max |score diff| {float((sa - sb).abs().max()):.2e}; "
          f"invalid items ours: {int((a < 0).sum())}; throughput ratio {tb / ta:.1f}x")
