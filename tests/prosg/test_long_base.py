"""The long base's continuation (and lmrepro.prosg.batching): one distance per step, every distance of the range
practised, its own batch stream, and clear errors when the range cannot fill a batch."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from lmrepro.prosg import pretrain
from lmrepro.prosg.batching import distance_pools
from lmrepro.prosg.long_base import LongBaseConfig, continue_pretrain


def _examples(distances, per=6) -> pd.DataFrame:
    return pd.DataFrame([{"uid": f"u{d}-{i}", "distance": d} for d in distances for i in range(per)])


def test_pools_refuse_batches_they_cannot_fill_and_the_range_must_not_be_empty():
    pools = distance_pools(_examples([0, 8, 32]), batch=4, what="b")
    assert list(pools) == [0, 8, 32] and all(len(g) == 6 for g in pools.values())
    with pytest.raises(ValueError, match=r"prosg.train.batch_size 7 exceeds the training rows at distances \{0: 6"):
        distance_pools(_examples([0, 8]), batch=7, what="prosg.train.batch_size")
    cfg = LongBaseConfig(steps=1, batch_task=2, max_distance=4)
    with pytest.raises(ValueError, match="no task examples with distance <= 4"):
        continue_pretrain(_Model(), _Recorder(), _examples([8, 32]), ["text"], cfg, seed=0)


class _Recorder:
    """Stands in for the encoder, the model and the loss: records the rows of each step."""

    pad = 0

    def __init__(self):
        self.batches = []

    def lm_chunks(self, texts, length):
        return torch.zeros((10, length), dtype=torch.long)

    def batch(self, rows, device="cpu"):
        self.batches.append(rows)
        return rows


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.config = type("C", (), {})()

    def forward(self, input_ids, labels=None, use_cache=False):
        return type("Out", (), {"loss": self.w * 1.0})()


@pytest.mark.parametrize("seed", [0, 1])
def test_each_step_practises_one_distance_and_every_distance_is_practised(monkeypatch, seed):
    monkeypatch.setattr(pretrain, "task_loss", lambda model, rows, weight: model.w * 2.0)
    enc = _Recorder()
    cfg = LongBaseConfig(steps=60, batch_task=3, batch_text=2, text_length=8, warmup=2, max_distance=64)
    curve = continue_pretrain(_Model(), enc, _examples([0, 8, 32, 64, 256]), ["text"], cfg, seed=seed)
    assert len(curve) == len(enc.batches) == 60
    for rec, rows in zip(curve, enc.batches):
        assert set(rows["distance"]) == {rec["distance"]} and len(rows) == 3
    practised = pd.Series([r["distance"] for r in curve]).value_counts()
    assert set(practised.index) == {0, 8, 32, 64}  # 256 is beyond max_distance
    assert practised.min() >= 5  # uniform over 4 distances: 15 expected each
    again = continue_pretrain(_Model(), _Recorder(), _examples([0, 8, 32, 64, 256]), ["text"], cfg, seed=seed)
    assert [r["distance"] for r in again] == [r["distance"] for r in curve]  # seeded


def test_the_learning_rate_warms_up_then_decays_to_a_tenth():
    cfg = LongBaseConfig(steps=100, lr=1e-3, warmup=10)
    rates = [pretrain.lr_at(s, cfg) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert max(rates) == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4, rel=0.01)
    assert all(b <= a + 1e-15 for a, b in zip(rates[9:], rates[10:]))
