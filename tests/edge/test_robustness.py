import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lmrepro.edge import compression as C
from lmrepro.edge import robustness as R
from lmrepro.edge.schemas import Robustness, RobustnessPredictions
from lmrepro.errors import LmreproError


class Tiny(nn.Module):
    """Embeddings + one layer (the 'backbone'), an adapter and per-task heads."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embeddings = nn.Embedding(40, 16)
        self.layer = nn.Linear(16, 16)
        self.adapters = nn.Linear(16, 16)
        self.heads = nn.ModuleDict({"a": nn.Linear(16, 2), "b": nn.Linear(16, 3)})

    def forward(self, ids, task):  # ids [B, S] -> logits [B, C]
        h = torch.tanh(self.layer(self.embeddings(ids).mean(1)))
        return self.heads[task](h + self.adapters(h))


def tiny_setup():
    model = Tiny().eval()
    rng = np.random.default_rng(0)
    rows = [(t, " ".join(map(str, rng.integers(0, 40, 6)))) for t in ("a", "b") for _ in range(60)]
    df = pd.DataFrame(rows, columns=["task", "text_a"])
    df["row"] = df.groupby("task").cumcount()
    exact = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith(("embeddings", "layer."))}

    def predict(frame):
        # the SRAM side must be exact whenever the model is evaluated
        for n, p in model.named_parameters():
            if n in exact:
                assert torch.equal(p, exact[n]), n
        out = np.zeros(len(frame), dtype=np.int64)
        with torch.no_grad():
            for task, g in frame.groupby("task"):
                ids = torch.tensor([list(map(int, s.split())) for s in g.text_a])
                out[g.index.to_numpy()] = model(ids, task).argmax(-1).numpy()
        return out

    df["label"] = predict(df)  # fp32 predictions as labels: fp32 accuracy is 1 by construction
    backbone = [n for n, _ in model.named_parameters() if n.startswith(("embeddings", "layer."))]
    return model, backbone, predict, df


CFG = R.RobustnessConfig(bit_error_rates=(0.0, 1e-3, 0.05), sparsities=(0.5,), seeds=(0, 1), max_per_task=0)


def test_sweep_conditions_and_exact_adapters():
    model, backbone, predict, df = tiny_setup()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    res = Robustness.validate(R.sweep(model, backbone, predict, df, CFG).accuracy)
    for n, p in model.named_parameters():  # restored afterwards
        assert torch.equal(p, before[n]), n
    fp32 = res[res.condition == "fp32"]
    assert (fp32.value == 1.0).all()
    n_codes = 40 * 16 + 16 * 16  # the two backbone matrices; the bias stays exact
    int8 = res[res.condition == "int8"]
    assert (int8.stored_backbone_bits == 8 * n_codes).all()
    zero = res[(res.condition == "int8_bit_errors") & (res.bit_error_rate == 0.0)]
    assert (zero.flipped_bits == 0).all()
    np.testing.assert_array_equal(zero[zero.seed == 0].value.to_numpy(), int8.value.to_numpy())
    high = res[(res.condition == "int8_bit_errors") & (res.bit_error_rate == 0.05)].drop_duplicates("seed")
    expect = 0.05 * 8 * n_codes
    assert (abs(high.flipped_bits - expect) < 5 * np.sqrt(expect)).all()
    assert high.flipped_bits.nunique() == 2  # seeds differ
    pruned = res[res.condition == "int8_pruned"].iloc[0]
    # layer matrix (256 weights) pruned to 50%: mask 256 bits + 128 codes; embeddings dense int8
    assert pruned.stored_backbone_bits == 40 * 16 * 8 + 256 + 8 * 128


def test_sweep_is_deterministic():
    a = R.sweep(*tiny_setup(), CFG)
    b = R.sweep(*tiny_setup(), CFG)
    pd.testing.assert_frame_equal(a.accuracy, b.accuracy)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)


def test_predictions_are_paired_and_give_the_accuracy():
    """Every point holds the same (task, row) set; the accuracy table is their mean."""
    model, backbone, predict, df = tiny_setup()
    res = R.sweep(model, backbone, predict, df, CFG)
    pred = RobustnessPredictions.validate(res.predictions)
    n_points = 2 + len(CFG.sparsities) + len(CFG.bit_error_rates) * len(CFG.seeds)
    assert len(pred) == n_points * len(df)
    rows = {k: sorted(zip(g.task, g.row)) for k, g in pred.groupby(R.POINT)}
    assert len(rows) == n_points and all(v == sorted(zip(df.task, df.row)) for v in rows.values())
    high = pred[(pred.bit_error_rate == 0.05) & (pred.seed == 1)]
    want = high.groupby("task").correct.mean()
    got = res.accuracy[(res.accuracy.bit_error_rate == 0.05) & (res.accuracy.seed == 1)].set_index("task").value
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index().astype(float), check_names=False)
    assert (pred[pred.condition == "fp32"].correct).all()  # labels are the fp32 predictions
    # forward passes are timed per point, except the rate-0 copies of int8 (no forward pass)
    assert len(res.seconds) == n_points - len(CFG.seeds) and all(v >= 0 for v in res.seconds.values())


def test_predictions_schema_rejects_unpaired_rows():
    model, backbone, predict, df = tiny_setup()
    pred = R.sweep(model, backbone, predict, df, CFG).predictions
    unpaired = pred.drop(index=pred.index[-1])
    with pytest.raises(Exception, match="same \\(task, row\\) set"):
        RobustnessPredictions.validate(unpaired)
    bad = pred.assign(correct=~pred.correct)
    with pytest.raises(Exception, match="pred == label"):
        RobustnessPredictions.validate(bad)


def test_summary_means_over_seeds():
    res = R.sweep(*tiny_setup(), CFG).accuracy
    s = R.summarize(res)
    row = s[(s.condition == "int8_bit_errors") & (s.bit_error_rate == 1e-3)].iloc[0]
    assert row.n_seeds == 2
    macro = res[(res.condition == "int8_bit_errors") & (res.bit_error_rate == 1e-3)].groupby("seed").value.mean()
    assert row["mean"] == pytest.approx(macro.mean())


def test_unknown_backbone_name_is_an_error():
    model, _, predict, df = tiny_setup()
    with pytest.raises(LmreproError, match="not in the model"):
        R.sweep(model, ["nope.weight"], predict, df, CFG)


def test_eval_frame_limits_and_checks():
    df = pd.DataFrame({"task": ["a"] * 5 + ["b"] * 5, "split": ["test"] * 10, "text_a": list("abcdefghij"),
                       "label": [0] * 10})
    cfg = R.RobustnessConfig(max_per_task=2)
    got = R.eval_frame(df, ["a", "b"], cfg)
    assert got.task.value_counts().to_dict() == {"a": 2, "b": 2}
    # row = position in the task's split: names the same example as the table does
    for r in got.itertuples():
        assert r.text_a == df[df.task == r.task].text_a.iloc[r.row]
    pd.testing.assert_frame_equal(got, R.eval_frame(df, ["a", "b"], cfg))  # seeded
    other = R.eval_frame(df, ["a", "b"], R.RobustnessConfig(max_per_task=2, sample_seed=5))
    assert list(other.text_a) != list(got.text_a)
    everything = R.eval_frame(df, ["a", "b"], R.RobustnessConfig(max_per_task=0))
    assert list(everything.row) == [0, 1, 2, 3, 4] * 2
    assert len(R.eval_frame(df, ["a"], R.RobustnessConfig(max_per_task=50))) == 5  # fewer rows than asked: all
    with pytest.raises(LmreproError, match="no 'test' rows"):
        R.eval_frame(df, ["a", "c"], cfg)


# ---------------------------------------------------------------- compression primitives


def test_quantize_rows_error_within_half_step():
    w = np.random.default_rng(1).normal(size=(7, 33)).astype(np.float32)
    q, s = C.quantize_rows(w)
    assert q.dtype == np.int8 and np.abs(q).max() == 127
    assert np.all(np.abs(C.dequantize_rows(q, s) - w) <= s[:, None] / 2 + 1e-7)


def test_prune_magnitude_zeroes_the_smallest():
    w = np.arange(1, 101, dtype=np.float32).reshape(10, 10) * np.where(np.arange(100) % 2, 1, -1).reshape(10, 10)
    p = C.prune_magnitude(w, 0.3)
    assert (p == 0).sum() == 30 and np.abs(p[p != 0]).min() == 31


def test_flip_bits_rates():
    rng = np.random.default_rng(0)
    codes = np.zeros(100_000, dtype=np.int8)
    out, k = C.flip_bits(codes, 1e-3, rng)
    bits = np.unpackbits(out.view(np.uint8)).sum()
    assert bits == k and abs(k - 800) < 5 * np.sqrt(800)
    all_out, k_all = C.flip_bits(np.zeros(10, np.int8), 1.0, rng)
    assert k_all == 80 and (all_out == -1).all()
    same, k0 = C.flip_bits(codes, 0.0, rng)
    assert k0 == 0 and (same == 0).all()
    with pytest.raises(LmreproError, match="bit-error rate"):
        C.flip_bits(codes, 1.5, rng)


def test_bernoulli_positions_unbiased():
    rng = np.random.default_rng(3)
    counts = [C.bernoulli_positions(10_000, 0.01, rng).size for _ in range(200)]
    assert np.mean(counts) == pytest.approx(100, rel=0.03)
    pos = C.bernoulli_positions(10_000, 0.3, rng)
    assert (np.diff(pos) > 0).all() and pos.max() < 10_000


def test_evaluation_order_changes_speed_only():
    """Rows fed to predict in another order (length_order) give the same per-row outcomes,
    returned in the evaluation frame's order; an order that is not a permutation is refused."""
    model, backbone, predict, df = tiny_setup()
    seen = []

    def recording(frame):
        seen.append(list(zip(frame.task, frame.row)))
        return predict(frame)

    lengths = np.random.default_rng(1).integers(1, 50, len(df))
    order = R.length_order(df["task"].to_numpy(), lengths)
    ordered = R.sweep(model, backbone, recording, df, CFG, order=order)
    plain = R.sweep(model, backbone, predict, df, CFG)
    pd.testing.assert_frame_equal(ordered.predictions, plain.predictions)
    pd.testing.assert_frame_equal(ordered.accuracy, plain.accuracy)
    fed = seen[0]
    assert fed != list(zip(df.task, df.row))  # the order really changed what predict saw
    tasks = [t for t, _ in fed]
    assert tasks == sorted(tasks)  # grouped by task, then by length within it
    for task in set(tasks):
        lens = [lengths[i] for i in order if df.task.iat[i] == task]
        assert lens == sorted(lens)
    with pytest.raises(LmreproError, match="permutation"):
        R.sweep(model, backbone, predict, df, CFG, order=np.zeros(len(df), dtype=int))
