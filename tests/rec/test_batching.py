"""Batch order of the generative recommenders' training (rec.train.bucket): the default is
the official order (consecutive slices of one seeded permutation, unchanged by the
option's introduction); bucketing keeps every example exactly once per epoch, the number
of batches, and determinism, while padding fewer tokens."""

from __future__ import annotations

import dataclasses

import torch

from lmrepro.rec.train import TrainConfig, batch_order

CFG = TrainConfig(batch_size=8)


def _examples(n: int = 203) -> list[tuple[list[int], list[int]]]:
    g = torch.Generator().manual_seed(1)
    lens = torch.randint(1, 30, (n, 2), generator=g).tolist()
    return [([5] * a, [6] * b) for a, b in lens]


def _pads(ex, batches) -> int:
    return sum(len(b) * max(len(ex[i][0]) for i in b) - sum(len(ex[i][0]) for i in b) for b in batches)


def test_default_order_is_the_official_permutation_sliced():
    ex = _examples()
    perm = torch.randperm(len(ex), generator=torch.Generator().manual_seed(3)).tolist()
    assert batch_order(ex, CFG, torch.Generator().manual_seed(3)) == [perm[s : s + 8] for s in range(0, len(ex), 8)]


def test_buckets_keep_every_example_once_and_pad_less():
    ex = _examples()
    plain = batch_order(ex, CFG, torch.Generator().manual_seed(3))
    cfg = dataclasses.replace(CFG, bucket=10)
    a = batch_order(ex, cfg, torch.Generator().manual_seed(3))
    assert sorted(i for b in a for i in b) == list(range(len(ex)))
    assert len(a) == len(plain) and all(len(b) <= 8 for b in a)
    assert _pads(ex, a) < _pads(ex, plain) / 2
    assert a == batch_order(ex, cfg, torch.Generator().manual_seed(3))  # deterministic
    assert a != batch_order(ex, cfg, torch.Generator().manual_seed(4))  # and seeded


def test_pad_batch_right_pads_with_a_mask():
    from lmrepro.rec.examples import pad_batch

    ids, mask = pad_batch([[4, 5, 6], [7], [8, 9]], fill=-100)
    assert ids.tolist() == [[4, 5, 6], [7, -100, -100], [8, 9, -100]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert ids.dtype == mask.dtype == torch.int64
