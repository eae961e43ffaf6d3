"""Shared training rows and the learning curve: nested sizes, the same rows for every
method, a curve that trains on exactly those rows and reads test only after training."""

import numpy as np
import pandas as pd
import pytest

from lmrepro.errors import LmreproError
from lmrepro.mta import curve, methods
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.features import compute_features
from lmrepro.mta.schemas import CurveScores, Examples
from lmrepro.mta.train import Inputs, TrainConfig


def _table(n_train: int = 60) -> pd.DataFrame:
    rows = []
    for task in ("sst2", "msrp"):
        for split, n in (("train", n_train), ("valid", 6), ("test", 9)):
            rows += [(task, split, f"{task} {split} {i}", None, i % 2) for i in range(n)]
    return pd.DataFrame(rows, columns=["task", "split", "text_a", "text_b", "label"])


def _train_source(examples: pd.DataFrame, n: int | None = None) -> dict[str, set]:
    data = methods.Task.from_examples(examples, n)
    return {t: set(examples.loc[rows, "source_row"]) for t, rows in data.splits["train"].items()}


def test_curve_sizes_are_nested_and_the_comparison_rows_are_the_old_subsample():
    table = _table()
    cfg = DataConfig(tasks=("sst2", "msrp"), n_train=20, n_test=5, n_valid=3, curve=(8, 20, 1000))
    examples = select_examples(table, cfg)
    Examples.validate(examples)
    assert (examples[examples.split == "train"].groupby("task").size() == 60).all()  # 1000 caps at the split
    small, mid, full = (_train_source(examples, n) for n in (8, 20, None))
    for t in small:
        assert len(small[t]) == 8 and len(mid[t]) == 20 and len(full[t]) == 60
        assert small[t] < mid[t] < full[t]
    # without a curve, the store's n_train rows are exactly the rank < n_train rows above
    plain = select_examples(table, DataConfig(tasks=("sst2", "msrp"), n_train=20, n_test=5, n_valid=3))
    assert _train_source(plain) == mid
    # test and valid rows do not depend on the curve
    for split in ("test", "valid"):
        a = examples[examples.split == split][["task", "source_row"]].reset_index(drop=True)
        b = plain[plain.split == split][["task", "source_row"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_bad_sizes_and_seed_counts_are_refused():
    with pytest.raises(LmreproError, match="curve"):
        DataConfig(curve=(0, 10))
    with pytest.raises(LmreproError, match="n_train"):
        methods.Task.from_examples(select_examples(_table(), DataConfig(tasks=("sst2",), n_train=4)), 0)
    with pytest.raises(LmreproError, match="mta.curve.seeds"):
        curve.first_seeds([1, 2], 3)
    assert curve.first_seeds([5, 6, 7], 2) == [5, 6]


def test_curve_trains_each_size_on_its_rows_and_scores_full_test(backbone, fresh_encoder, tiny_table, monkeypatch):
    _, tok = backbone
    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=4, n_test=100, curve=(4, 10),
                                                      max_len=16))
    encoded = encode(examples, tok, 16)
    mix = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1)
    feats = compute_features(MtaClassifier(fresh_encoder, {"sst2": 2}, mix, "none"), encoded, key="k")
    seen = []
    from lmrepro.mta import selection

    real_train = selection.train

    def spy(model, inputs, labels, schedule, *args, **kwargs):
        seen.append({int(r) for _, rows in schedule for r in rows})
        return real_train(model, inputs, labels, schedule, *args, **kwargs)

    monkeypatch.setattr(selection, "train", spy)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-2)
    scores = curve.run(fresh_encoder, examples, Inputs(encoded, feats), mix, cfg, methods.Stage2Config(epochs=1,
                       batch_size=4, lr=1e-2), (4, 10), [3], None)
    CurveScores.validate(scores)
    assert set(scores["n_train"]) == {4, 10} and set(scores["method"]) == {"adapters", "mta"}
    rank = examples["rank"].to_numpy()
    train = set(np.flatnonzero((examples.split == "train").to_numpy()))
    # 2 stage-1 runs (one per task) + 1 stage-2 run per size; never a test or valid row
    small = set().union(*seen[:3])
    assert small == {r for r in train if rank[r] < 4}
    assert set().union(*seen[3:]) == train
    assert (scores.groupby(["method", "n_train"]).size() == 2).all()
    assert (scores.loc[scores.n_train == 4, "rows"] == 4).all() and (scores.loc[scores.n_train == 10, "rows"] == 10).all()
    table = curve.summary(scores)
    assert list(table.columns) == ["method", "n_train", "mean", "std", "rows", "seeds"] and (table.seeds == 1).all()


def test_report_says_full_test_splits_only_when_every_split_is_whole():
    from lmrepro.mta.report import test_scope
    from lmrepro.stages.mta_eval import test_rows

    preds = pd.DataFrame({"method": ["a"] * 5 + ["b"] * 5, "seed": 0, "task": ["x", "x", "x", "y", "y"] * 2,
                          "row": range(10), "label": 0, "pred": 0})
    rows = test_rows(preds, ["x", "y"])
    assert rows == {"x": 3, "y": 2}
    assert "full official test split" in test_scope({"n_test": 4, "test_rows": rows})
    assert "full" not in test_scope({"n_test": 3, "test_rows": rows})  # x may have been cut at 3
    with pytest.raises(LmreproError, match="different numbers"):
        test_rows(preds.iloc[1:], ["x", "y"])


def test_full_point_trains_on_every_training_row_and_scores_the_same_test_rows(backbone, fresh_encoder):
    _, tok = backbone
    table = _table(n_train=30)
    cfg = DataConfig(tasks=("sst2", "msrp"), n_train=10, n_test=5, n_valid=3, curve=(4, 10), max_len=16)
    main = select_examples(table, cfg)
    mix = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1)
    examples, inputs = curve.full_point(fresh_encoder, tok, table, cfg, mix)
    Examples.validate(examples)
    for split in ("valid", "test"):  # the same held-out rows as the comparison's table
        a = main[main.split == split].sort_values(["task", "source_row"])[["task", "source_row"]]
        b = examples[examples.split == split].sort_values(["task", "source_row"])[["task", "source_row"]]
        assert a.to_numpy().tolist() == b.to_numpy().tolist()
    assert (examples[examples.split == "train"].groupby("task").size() == 30).all()
    scores = curve.run(fresh_encoder, examples, inputs, mix, TrainConfig(epochs=1, batch_size=8, lr=1e-2),
                       methods.Stage2Config(epochs=1, batch_size=8, lr=1e-2), (curve.FULL,), [3], None)
    CurveScores.validate(scores)
    assert set(scores["n_train"]) == {curve.FULL} and (scores["rows"] == 30).all()
    assert set(scores["method"]) == {"adapters", "mta"}
