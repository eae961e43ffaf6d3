"""Adapter placement chosen on validation (mta/placement.py): each candidate trains on its own
cache of the blocks below it, no test row is read, and the choice follows the scores."""

import numpy as np
import pytest

from lmrepro.errors import LmreproError
from lmrepro.mta import methods, placement
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.train import TrainConfig

MIX = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1)


def test_choose_follows_the_scores_and_ties_go_to_fewer_blocks():
    assert placement.choose({1: 0.70, 2: 0.72, 3: 0.71}) == 2
    assert placement.choose({1: 0.73, 2: 0.72, 3: 0.71}) == 1
    assert placement.choose({3: 0.72, 1: 0.72, 2: 0.70}) == 1
    with pytest.raises(LmreproError):
        placement.choose({})
    for bad in ((), (0, 1), (1, 1)):
        with pytest.raises(LmreproError, match="candidates"):
            placement.PlacementConfig(candidates=bad)


def test_search_trains_every_candidate_and_reads_no_test_row(backbone, fresh_encoder, tiny_table, monkeypatch):
    _, tok = backbone
    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=8, n_test=4, n_valid=4,
                                                      max_len=16))
    encoded = encode(examples, tok, 16)
    data = methods.Task.from_examples(examples)
    cached_rows = []
    real = placement.compute_features

    def spy(model, enc, key, *args, rows=None, **kwargs):
        cached_rows.append((model.first_adapted, set(int(r) for r in rows)))
        return real(model, enc, key, *args, rows=rows, **kwargs)

    monkeypatch.setattr(placement, "compute_features", spy)
    record = placement.search(fresh_encoder, encoded, data, MIX, TrainConfig(epochs=2, batch_size=4, lr=1e-2), 5,
                              (2, 1))
    assert "test" not in data.requested
    test = {int(r) for rows in data.splits["test"].values() for r in rows}
    n_blocks = len(fresh_encoder.encoder.layer)
    assert [k for k, _ in cached_rows] == [n_blocks - 1, n_blocks - 2]  # one cache per candidate, below its adapters
    assert all(rows and not rows & test for _, rows in cached_rows)
    assert set(record["candidates"]) == {"1", "2"}
    assert record["candidates"]["2"]["trainable"] > record["candidates"]["1"]["trainable"]
    scores = {int(k): v["valid"] for k, v in record["candidates"].items()}
    assert record["chosen"] == placement.choose(scores)
    with pytest.raises(LmreproError, match="exceed"):
        placement.search(fresh_encoder, encoded, data, MIX, TrainConfig(epochs=1, batch_size=4), 5, (n_blocks + 1,))


@pytest.mark.parametrize("chosen,says_differs", [(1, False), (3, True)])
def test_the_report_says_whether_the_comparison_used_the_choice(chosen, says_differs):
    record = {"seed": 2022, "lr": 0.001, "chosen": chosen,
              "candidates": {"1": {"valid": 0.70}, "2": {"valid": 0.71}, "3": {"valid": 0.72 if chosen == 3 else 0.69}}}
    text = placement.describe(record, used=1)
    assert f"Validation chooses the top {chosen} block(s)" in text and "uses the top 1" in text
    assert ("do not use the placement validation prefers (+2.0 validation points)" in text) == says_differs
