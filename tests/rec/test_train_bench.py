"""The training-cost benchmark (python -m lmrepro.rec.bench train) times the real training
step and beam search on a tiny sample: its step counts follow the batch size, bucketing
removes pads, and the costs are positive."""

from __future__ import annotations

import dataclasses
import math

import pytest

from lmrepro import config
from lmrepro.errors import LmreproError
from lmrepro.rec import train_bench as tb
from lmrepro.rec.data import read_sequences_txt, subset_users
from lmrepro.rec.train import TrainConfig
from tests.conftest import REPO

SMOKE = config.load_params(REPO / "params.yaml", REPO / "workflow" / "profiles" / "smoke" / "params.yaml")


@pytest.fixture(scope="module")
def su(shared_data):
    df = subset_users(read_sequences_txt(shared_data / "rec" / "Beauty.txt"), 40, 0)
    return tb.setup(df, "random", SMOKE, 0)


def test_costs_of_the_real_step_and_search(su):
    cfg = config.from_dict(TrainConfig, SMOKE["rec"]["train"], "rec.train")
    cfg = dataclasses.replace(cfg, batch_size=8)
    plain = tb.measure(su, SMOKE, "lightlm", "sequential", steps=3, warmup=1, decode_users=4, cfg=cfg)
    assert plain.steps_per_epoch == math.ceil(plain.examples / 8)
    assert plain.step_cpu_s > 0 and plain.epoch_cpu_s == pytest.approx(plain.step_cpu_s * plain.steps_per_epoch)
    assert plain.decode_all_cpu_s == pytest.approx(plain.decode_ms_per_user / 1000 * 2 * su.cat.n_users)
    assert plain.pad_share > 0  # histories of different lengths
    bucketed = tb.measure(su, SMOKE, "lightlm", "sequential", steps=3, warmup=1, decode_users=4,
                          cfg=dataclasses.replace(cfg, bucket=4))
    assert bucketed.steps_per_epoch == plain.steps_per_epoch and bucketed.pad_share < plain.pad_share


def test_wide_geometry_matches_lightlm_parameters_as_in_rec_train(su):
    light = tb.geometry(SMOKE, "lightlm", su.vocab.size)
    wide = tb.geometry(SMOKE, "wide", su.vocab.size)
    assert wide.num_layers < light.num_layers and wide.d_ff != light.d_ff
    from lmrepro.rec.models.t5 import count_params

    assert abs(count_params(wide, su.vocab.size) - count_params(light, su.vocab.size)) < 2 * wide.d_model * 2


def test_speedup_times_both_configurations_on_the_same_examples(su):
    s = tb.measure_speedup(su, SMOKE, "lightlm", "sequential", 5, reference=(4, 0), candidate=(8, 3), rounds=3,
                           warmup_rounds=1)
    ref, cand = s.reference, s.candidate
    assert ref.examples == cand.examples == 3 * 8  # 3 rounds of lcm(4, 8) examples
    assert (ref.steps, cand.steps) == (6, 3) and (ref.batch_size, cand.bucket) == (4, 3)
    assert ref.cpu_s > 0 and cand.cpu_s > 0
    assert s.ratio == pytest.approx(ref.cpu_s / cand.cpu_s)
    assert cand.epoch_cpu_s == pytest.approx(cand.epoch_examples / cand.examples_per_s)
    assert cand.pad_share < ref.pad_share  # one sorted pool of the same examples pads less
    with pytest.raises(LmreproError, match="rounds"):
        tb.measure_speedup(su, SMOKE, "lightlm", "sequential", 5, reference=(4, 0), candidate=(8, 3), rounds=10_000)


def test_speedup_row_has_a_target_and_compares_examples_per_second(monkeypatch, su):
    monkeypatch.setattr(tb, "setup", lambda df, method, params, seed: su)
    monkeypatch.setattr(tb, "load_params", lambda path: SMOKE)
    real = tb.measure_speedup
    monkeypatch.setattr(tb, "measure_speedup", lambda *a, **kw: real(*a, **{**kw, "rounds": 1,
                                                                          "reference": (4, 0), "candidate": (8, 3)}))
    row = tb.speedup_row(quick=True)
    assert row.track == "rec" and row.unit == "examples/s" and row.higher_is_better
    assert row.target == tb.QUICK_TARGET and row.ratio == pytest.approx(row.candidate / row.reference)
    assert "pad share" in row.note and "history 5" in row.name
