import math

import numpy as np
import pytest

from lmrepro.rec.metrics import per_user_metrics, summarize, target_ranks


def test_hand_computed_example():
    topk = np.array([[4, 7, 9], [1, 2, 3], [5, 6, 8]] + [[0] * 3])  # 4 users, lists of 3
    targets = np.array([7, 3, 2, 0])  # ranks 1, 2, missing, 0
    ranks = target_ranks(topk, targets)
    assert ranks.tolist() == [1, 2, -1, 0]
    m = summarize(per_user_metrics(np.arange(4), ranks, cutoffs=(1, 2, 3)))
    assert m["hr@1"] == pytest.approx(1 / 4)
    assert m["hr@2"] == pytest.approx(2 / 4)
    assert m["hr@3"] == pytest.approx(3 / 4)
    assert m["ndcg@1"] == pytest.approx(1 / 4)
    assert m["ndcg@2"] == pytest.approx((1 + 1 / math.log2(3)) / 4)
    assert m["ndcg@3"] == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(4)) / 4)
