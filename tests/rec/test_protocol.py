"""The ranking protocol switch (rec.eval.exclude_history): when it is on, no model ranks
an item the user has already seen, and the lists still hold K items; when it is off, every
model ranks the whole catalogue. The same rule for the T5 models' constrained beam search,
SASRec and MostPop."""

import numpy as np
import scipy.sparse as sp
import torch

from lmrepro.rec.beam_search import constrained_beam_search
from lmrepro.rec.models.mostpop import mostpop_lists, mostpop_topk
from lmrepro.rec.models.sasrec import SasRec, SasRecConfig, sasrec_topk
from tests.rec.test_decoding import setup  # noqa: F401  (the tiny T5 + trie fixture)

K = 10


def _without(full: np.ndarray, seen, k: int) -> np.ndarray:
    """The full ranking with the seen items removed, cut at k."""
    return np.array([[i for i in row if i not in set(s)][:k] for row, s in zip(full, seen)])


def test_beam_search_skips_the_seen_items_and_keeps_k(setup):  # noqa: F811
    ids, _, model, trie, inputs = setup
    mask = torch.ones_like(inputs)
    full, _ = constrained_beam_search(model, inputs, mask, trie, K)
    rng = np.random.default_rng(0)
    # each user has seen its first 3 full-ranking items and 10 random others
    seen = [np.union1d(row[:3], rng.choice(len(ids), 10, replace=False)) for row in full.numpy()]
    got, scores = constrained_beam_search(model, inputs, mask, trie, K, exclude=seen)
    for row, s, ref in zip(got.numpy(), seen, full.numpy()):
        assert len(set(row)) == K and (row >= 0).all()  # still K real items
        assert not set(row) & set(s)
        assert set(ref) - set(s) <= set(row)  # the unseen items of the full list stay
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    empty = [np.zeros(0, dtype=np.int64)] * len(inputs)
    assert torch.equal(constrained_beam_search(model, inputs, mask, trie, K, exclude=empty)[0], full)


def test_sasrec_ranking_skips_the_seen_items():
    torch.manual_seed(0)
    n_items = 30
    model = SasRec(n_items, SasRecConfig(hidden=16, blocks=1, max_len=8, dropout=0.0))
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, n_items, rng.integers(1, 12)) for _ in range(7)]
    full = sasrec_topk(model, seqs, n_items)
    assert np.array_equal(sasrec_topk(model, seqs, K), full[:, :K])  # off: whole catalogue
    assert np.array_equal(sasrec_topk(model, seqs, K, exclude_history=True), _without(full, seqs, K))


def test_mostpop_skips_each_users_seen_items():
    rng = np.random.default_rng(2)
    seen = (rng.random((9, 25)) < np.linspace(0.6, 0.05, 25)).astype(float)  # low ids popular
    train = sp.csr_matrix(seen)
    order = mostpop_topk(train, 25)
    assert np.array_equal(mostpop_lists(train, K), np.tile(order[:K], (9, 1)))
    per_user = [np.flatnonzero(r) for r in seen]
    expected = _without(np.tile(order, (9, 1)), per_user, K)
    assert np.array_equal(mostpop_lists(train, K, exclude_history=True, batch=4), expected)
