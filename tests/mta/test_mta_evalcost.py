"""The full-test-split cost estimate scales the measured per-example costs correctly."""

import pandas as pd
import pytest

from lmrepro.mta.evalcost import ADAPTER_METHODS, FULL_FT_METHODS, costs


def test_costs_scale_by_test_size_seeds_and_methods():
    per_task = pd.DataFrame({"task": ["a", "b"], "test": [1000, 100], "lower_s": [0.01, 0.02],
                             "top_s": [0.001, 0.002], "full_s": [0.02, 0.04], "cache_mb": [50.0, 10.0]})
    out = costs(per_task, n_seeds=3, n_test=200)
    full, sub = out["full"], out["n_test=200"]
    assert full["examples"] == 1100 and sub["examples"] == 300  # task b has fewer than 200
    assert full["feature_cache_s"] == pytest.approx(1000 * 0.01 + 100 * 0.02)  # once, not per seed
    assert full["per_adapter_method_s"] == pytest.approx(3 * (1000 * 0.001 + 100 * 0.002))
    assert full["adapter_methods_s"] == pytest.approx(12 + len(ADAPTER_METHODS) * 3.6)
    assert full["full_ft_methods_s"] == pytest.approx(len(FULL_FT_METHODS) * 3 * (20 + 4))
    assert sub["cache_mb"] == pytest.approx(50 * 200 / 1000 + 10)
    assert set(ADAPTER_METHODS) | set(FULL_FT_METHODS) == {"adapters", "mta", "single_ft", "multi_ft", "shared", "joint", "fusion"}
