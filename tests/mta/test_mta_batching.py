"""Length-grouped training batches and length-ordered prediction (mta/train.py): they change
how much padding a batch carries, never which rows are seen or which label a row gets."""

import numpy as np
import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.mta import methods
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.train import (Inputs, TrainConfig, balanced_schedule, epoch_batches, predict,
                               single_task_schedule)

RNG_LENGTHS = np.random.default_rng(7).integers(3, 60, size=500)  # token length of row i


def _padded(batches, lengths):
    return sum(int(lengths[b].max()) * len(b) for b in batches)


def test_grouped_pass_sees_every_row_once_in_batches_of_similar_length():
    rows = np.arange(40, 440)
    plain = epoch_batches(rows, TrainConfig(batch_size=16, length_groups=0), np.random.default_rng(1), RNG_LENGTHS)
    grouped = epoch_batches(rows, TrainConfig(batch_size=16, length_groups=8), np.random.default_rng(1), RNG_LENGTHS)
    for batches in (plain, grouped):
        seen = np.concatenate(batches)
        assert sorted(seen.tolist()) == rows.tolist()  # a pass: every row exactly once
        assert max(len(b) for b in batches) == 16
    # the point of grouping: far fewer padded tokens for the same rows
    assert _padded(grouped, RNG_LENGTHS) < 0.8 * _padded(plain, RNG_LENGTHS)
    # and batches are still shuffled: not one global sort by length
    firsts = [int(RNG_LENGTHS[b].min()) for b in grouped]
    assert firsts != sorted(firsts)


def test_plain_batches_are_the_shuffled_chunks_and_need_no_lengths():
    rows = np.arange(100)
    a = epoch_batches(rows, TrainConfig(batch_size=8, length_groups=4), np.random.default_rng(3), None)
    b = epoch_batches(rows, TrainConfig(batch_size=8, length_groups=0), np.random.default_rng(3), RNG_LENGTHS)
    perm = np.random.default_rng(3).permutation(rows)
    for got in (a, b):
        assert np.array_equal(np.concatenate(got), perm)


def test_schedules_are_deterministic_and_cover_the_rows():
    cfg = TrainConfig(epochs=2, batch_size=8, length_groups=4)
    rows = {"a": np.arange(0, 64), "b": np.arange(64, 100)}
    s1 = balanced_schedule(rows, cfg, np.random.default_rng(5), RNG_LENGTHS)
    s2 = balanced_schedule(rows, cfg, np.random.default_rng(5), RNG_LENGTHS)
    assert [(t, b.tolist()) for t, b in s1] == [(t, b.tolist()) for t, b in s2]
    assert all(set(b.tolist()) <= set(rows[t].tolist()) for t, b in s1)
    single = single_task_schedule("a", rows["a"], cfg, np.random.default_rng(5), RNG_LENGTHS)
    assert len(single) == 16  # 2 epochs x 8 batches
    assert sorted(np.concatenate([b for _, b in single[:8]]).tolist()) == rows["a"].tolist()


def test_negative_length_groups_are_refused():
    with pytest.raises(LmreproError, match="length_groups"):
        TrainConfig(length_groups=-1)


def test_length_ordered_predict_returns_labels_in_the_callers_order(fresh_encoder, backbone, tiny_table):
    _, tok = backbone
    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=12, n_test=4, max_len=16))
    encoded = encode(examples, tok, 16)
    data = methods.Task.from_examples(examples)
    torch.manual_seed(0)
    model = MtaClassifier(fresh_encoder, data.n_labels, MixtureConfig(bottleneck=8), "mixture").eval()
    inputs = Inputs(encoded)
    rows = data.splits["train"]["sst2"][::-1].copy()  # an order that is not the length order
    assert not np.array_equal(np.argsort(encoded.lengths()[rows], kind="stable"), np.arange(len(rows)))
    one_by_one = np.array([predict(model, inputs, np.array([r]), "sst2")[0] for r in rows])
    assert len(set(one_by_one.tolist())) > 1, "a constant prediction could not show a reordering"
    assert np.array_equal(predict(model, inputs, rows, "sst2", batch_size=5), one_by_one)
