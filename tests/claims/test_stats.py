"""The shared statistics against known values (scipy, hand-worked examples)."""

import numpy as np
import pytest
from scipy import stats as sps

from lmrepro.claims import stats
from lmrepro.claims.stats import Outcomes


def _arms(a, b, strata=None):
    units = np.arange(np.asarray(a).shape[-1])
    return Outcomes(np.asarray(a, float), units, strata), Outcomes(np.asarray(b, float), units, strata)


def test_mcnemar_exact_matches_the_binomial_on_discordant_pairs():
    # 10 pairs only a got right, 2 only b: exact two-sided p = 0.0386 (binomial 10 of 12)
    a = np.array([1] * 10 + [0] * 2 + [1] * 30 + [0] * 58)
    b = np.array([0] * 10 + [1] * 2 + [1] * 30 + [0] * 58)
    assert stats.mcnemar_exact(a, b) == pytest.approx(0.03857, abs=1e-4)
    assert stats.mcnemar_exact(a, a) == 1.0
    with pytest.raises(ValueError):
        stats.mcnemar_exact(a, b[:-1])


def test_holm_adjusts_in_input_order():
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_a_constant_shift_has_a_zero_width_ci():
    rng = np.random.default_rng(0)
    b = rng.normal(size=200)
    res = stats.paired_bootstrap(*_arms(b + 0.3, b), n_boot=500)
    assert res.effect == pytest.approx(0.3)
    assert res.ci_low == pytest.approx(0.3) and res.ci_high == pytest.approx(0.3)
    assert res.p < 0.01


def test_bootstrap_ci_agrees_with_the_paired_t_interval():
    rng = np.random.default_rng(1)
    b = rng.normal(size=400)
    a = b + 0.1 + rng.normal(scale=1.0, size=400)
    res = stats.paired_bootstrap(*_arms(a, b), n_boot=4000, seed=3)
    t = sps.ttest_rel(a, b).confidence_interval(0.95)
    assert res.ci_low == pytest.approx(t.low, abs=0.03)
    assert res.ci_high == pytest.approx(t.high, abs=0.03)
    assert res.se == pytest.approx(np.std(a - b, ddof=1) / np.sqrt(400), rel=0.1)
    # two-sided p agrees with the CI: significant exactly when 0 is outside it
    assert (res.p < 0.05) == (res.ci_low > 0 or res.ci_high < 0)


def test_pairing_matters_shared_units_shrink_the_ci():
    rng = np.random.default_rng(2)
    user_effect = rng.normal(scale=3.0, size=300)  # large between-user spread, shared by both arms
    b = user_effect + rng.normal(scale=0.2, size=300)
    a = user_effect + 0.1 + rng.normal(scale=0.2, size=300)
    paired = stats.paired_bootstrap(*_arms(a, b), n_boot=2000)
    unpaired_se = np.sqrt(a.var(ddof=1) / 300 + b.var(ddof=1) / 300)
    assert paired.se < unpaired_se / 5
    assert paired.ci_low > 0


def test_strata_give_the_macro_average():
    a = np.array([1, 1, 1, 1, 0, 0])  # stratum x: 4/4 right; stratum y: 0/2
    b = np.zeros(6)
    strata = np.array(["x", "x", "x", "x", "y", "y"])
    res = stats.paired_bootstrap(*_arms(a, b, strata), n_boot=200)
    assert res.effect == pytest.approx(0.5)  # mean of 1.0 and 0.0, not 4/6
    assert res.mean_a == pytest.approx(0.5)


def test_seeds_are_a_resampling_level():
    rng = np.random.default_rng(4)
    b = rng.normal(size=(1, 500)).repeat(3, axis=0)
    seed_noise = np.array([[-0.3], [0.0], [0.3]])  # seeds disagree a lot
    a = b + 0.2 + seed_noise
    one_seed = stats.paired_bootstrap(*_arms(a[1:2], b[1:2]), n_boot=2000)
    three = stats.paired_bootstrap(*_arms(a, b), n_boot=2000)
    assert three.seeds == 3 and "seeds" in three.test
    assert three.se > 5 * max(one_seed.se, 1e-9)


def test_noninferiority_p_is_one_sided_against_the_margin():
    rng = np.random.default_rng(5)
    b = rng.normal(size=1000)
    a = b - 0.01 + rng.normal(scale=0.1, size=1000)
    res = stats.paired_bootstrap(*_arms(a, b), direction="noninferior", margin=0.05, n_boot=2000)
    assert res.p < 0.01  # -0.01 is clearly above -0.05
    worse = stats.paired_bootstrap(*_arms(a - 0.1, b), direction="noninferior", margin=0.05, n_boot=2000)
    assert worse.p > 0.99


@pytest.mark.parametrize(
    "effect, lo, hi, p, direction, expected",
    [
        (0.05, 0.02, 0.08, 0.001, "greater", "supported"),
        (-0.05, -0.08, -0.02, 0.001, "greater", "contradicted"),
        (0.01, -0.02, 0.04, 0.4, "greater", "inconclusive"),
        (0.0, -0.002, 0.003, 0.9, "greater", "contradicted"),  # an effect of 0.005 is ruled out
        (-0.05, -0.08, -0.02, 0.001, "less", "supported"),
        (0.05, 0.02, 0.08, 0.001, "less", "contradicted"),
        (-0.01, -0.03, 0.01, 0.001, "noninferior", "supported"),
        (-0.10, -0.14, -0.07, 1.0, "noninferior", "contradicted"),
        (-0.04, -0.09, 0.01, 0.3, "noninferior", "inconclusive"),
    ],
)
def test_decide_covers_every_verdict(effect, lo, hi, p, direction, expected):
    c = stats.Comparison(effect=effect, ci_low=lo, ci_high=hi, p=p, n=100, seeds=1, se=0.01, test="t",
                         mean_a=0.0, mean_b=0.0)
    assert stats.decide(c, p, direction=direction, alpha=0.05, min_effect=0.005, margin=0.05) == expected


def test_mde_and_n_needed():
    c = stats.Comparison(effect=0.01, ci_low=-0.01, ci_high=0.03, p=0.3, n=400, seeds=1, se=0.01, test="t",
                         mean_a=0.0, mean_b=0.0)
    assert c.mde(0.05) == pytest.approx((1.959964 + 0.841621) * 0.01, rel=1e-4)
    assert c.n_needed(0.05) == pytest.approx(400 * (c.mde(0.05) / 0.01) ** 2)


def test_unpaired_arms_are_refused():
    a = Outcomes(np.ones(3), np.array([1, 2, 3]))
    b = Outcomes(np.ones(3), np.array([1, 3, 2]))
    with pytest.raises(ValueError, match="not paired"):
        stats.paired_bootstrap(a, b)
