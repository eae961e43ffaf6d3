import numpy as np
import torch

from lmrepro.rec.models.sasrec import SasRec, SasRecConfig, _left_pad, sasrec_topk, train_sasrec

CFG = SasRecConfig(hidden=16, blocks=2, heads=2, max_len=6, dropout=0.0, epochs=3, batch_size=4)


def test_causal_and_padding_safe():
    """A position never sees later items; left padding produces no NaN."""
    torch.manual_seed(0)
    m = SasRec(20, CFG).eval()
    a = _left_pad([np.array([3, 4, 5]), np.array([1])], CFG.max_len)
    b = a.clone()
    b[0, -1] = 9  # change only the last item of user 0
    ha, hb = m(a), m(b)
    assert torch.isfinite(ha).all()
    assert torch.allclose(ha[0, :-1], hb[0, :-1], atol=1e-6)
    assert not torch.allclose(ha[0, -1], hb[0, -1])
    assert (ha[1, :-1] == 0).all()  # padded positions carry nothing


def test_training_selects_on_validation_and_is_deterministic():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 12, rng.integers(2, 8)) for _ in range(20)]
    hr = iter([0.1, 0.3, 0.2] * 2)
    runs = [train_sasrec(seqs, 12, lambda m: {"hr@20": next(hr)}, CFG, seed=1) for _ in range(2)]
    (m1, s1), (m2, s2) = runs
    assert s1["best_epoch"] == 1 and [r["train_loss"] for r in s1["curve"]] == [r["train_loss"] for r in s2["curve"]]
    assert np.array_equal(sasrec_topk(m1, seqs, 5), sasrec_topk(m2, seqs, 5))
