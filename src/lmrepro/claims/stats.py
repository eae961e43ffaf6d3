"""Paired statistics for every claim of every track: one implementation, tested once.

Why these tests:
- Every arm of a claim answers the same units (users, examples, items, rows), so the
  comparison is paired: the bootstrap resamples units (and, where a claim rests on
  training noise, seeds as a second level) with ONE set of weights shared by both arms.
  Treating the arms as independent samples overstates the noise (they share units).
- The percentile bootstrap gives the 95% CI of the effect and a p-value that agree: the
  two-sided p is below alpha exactly when the CI excludes zero (up to resampling).
- Paired binary outcomes of one seed get McNemar's exact test (a binomial test on the
  discordant pairs, scipy.stats.binomtest).
- Holm's step-down correction controls the family-wise error across the claims of one
  paper.
- An inconclusive result says how small an effect this n could have detected (80% power
  at alpha, from the bootstrap standard error) and how many units the observed effect
  would need.

Shapes: ``values`` is (S, N): S seeds (1 when the claim has none) x N units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

POWER = 0.8
VERDICTS = ("supported", "contradicted", "inconclusive")
DIRECTIONS = ("greater", "less", "noninferior")


@dataclass(frozen=True)
class Outcomes:
    """Per-unit outcomes of one arm: values[seed, unit]; units in the same order for every arm.

    ``strata`` (N,) groups units (e.g. the task of an example): the statistic is then the
    mean over strata of each stratum's mean (a macro average), and the bootstrap
    resamples within strata so each keeps its size.
    """

    values: np.ndarray  # (S, N)
    units: np.ndarray  # (N,)
    strata: np.ndarray | None = None  # (N,)

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=float)
        if v.ndim == 1:
            v = v[None, :]
        object.__setattr__(self, "values", v)
        if v.shape[1] != len(self.units):
            raise ValueError(f"values has {v.shape[1]} units, units has {len(self.units)}")
        if self.strata is not None and len(self.strata) != v.shape[1]:
            raise ValueError("strata must have one entry per unit")
        if not np.isfinite(v).all():
            raise ValueError("outcomes contain NaN or infinite values")

    @property
    def n_units(self) -> int:
        return self.values.shape[1]

    @property
    def n_seeds(self) -> int:
        return self.values.shape[0]


def unit_weights(n_units: int, strata: np.ndarray | None, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(B, N) bootstrap weights per unit; each row sums to 1 (a weighted mean is the statistic).

    Resampling N units with replacement is a multinomial draw of counts; within strata, each
    stratum draws its own counts and gets weight 1/K of the total (the macro average).
    """
    if strata is None:
        counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
        return counts / n_units
    labels, inverse = np.unique(np.asarray(strata), return_inverse=True)
    weights = np.zeros((n_boot, n_units))
    for k in range(len(labels)):
        idx = np.flatnonzero(inverse == k)
        counts = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=n_boot)
        weights[:, idx] = counts / (len(idx) * len(labels))
    return weights


def point_weights(n_units: int, strata: np.ndarray | None) -> np.ndarray:
    """(N,) weights of the observed statistic (no resampling)."""
    if strata is None:
        return np.full(n_units, 1.0 / n_units)
    labels, inverse, sizes = np.unique(np.asarray(strata), return_inverse=True, return_counts=True)
    return 1.0 / (sizes[inverse] * len(labels))


def statistic(values: np.ndarray, w_units: np.ndarray, w_seeds: np.ndarray) -> np.ndarray:
    """Weighted mean over seeds and units. values (S, N); w_units (B, N); w_seeds (B, S) -> (B,)."""
    per_unit = w_seeds @ values  # (B, N): seed-weighted mean per unit
    return np.einsum("bn,bn->b", per_unit, w_units)


@dataclass
class Comparison:
    """One paired comparison of arm a against arm b (effect = a - b)."""

    effect: float
    ci_low: float
    ci_high: float
    p: float
    n: int
    seeds: int
    se: float
    test: str
    mean_a: float
    mean_b: float
    boot: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    def mde(self, alpha: float) -> float:
        """Smallest |effect| this design detects with 80% power at two-sided alpha."""
        return float((sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(POWER)) * self.se)

    def n_needed(self, alpha: float) -> float | None:
        """Units needed to detect the observed effect (same SD per unit), or None if it is 0."""
        if self.effect == 0 or self.se == 0:
            return None
        return float(self.n * (self.mde(alpha) / abs(self.effect)) ** 2)


def paired_bootstrap(
    a: Outcomes,
    b: Outcomes,
    *,
    n_boot: int = 4000,
    seed: int = 0,
    alpha: float = 0.05,
    direction: str = "greater",
    margin: float = 0.0,
) -> Comparison:
    """Effect a - b with a percentile CI and p from one shared resampling of units (and seeds).

    p is two-sided for 'greater'/'less' (H0: no difference) and one-sided for
    'noninferior' (H0: a - b <= -margin).
    """
    _check_paired(a, b)
    rng = np.random.default_rng(seed)
    w_units = unit_weights(a.n_units, a.strata, n_boot, rng)
    s = a.n_seeds
    w_seeds = rng.multinomial(s, np.full(s, 1.0 / s), size=n_boot) / s if s > 1 else np.ones((n_boot, 1))
    diff = a.values - b.values
    boot = statistic(diff, w_units, w_seeds)
    w0 = point_weights(a.n_units, a.strata)
    effect = float(diff.mean(axis=0) @ w0)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    if direction == "noninferior":
        p = (np.sum(boot <= -margin) + 1) / (n_boot + 1)
    else:
        tail = min(np.sum(boot <= 0), np.sum(boot >= 0))
        p = min(1.0, 2 * (tail + 1) / (n_boot + 1))
    return Comparison(
        effect=effect, ci_low=float(lo), ci_high=float(hi), p=float(p), n=a.n_units, seeds=s,
        se=float(boot.std(ddof=1)), test="paired bootstrap" + (" (units x seeds)" if s > 1 else ""),
        mean_a=float(a.values.mean(axis=0) @ w0), mean_b=float(b.values.mean(axis=0) @ w0), boot=boot,
    )


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact McNemar p for paired 0/1 outcomes: binomial test on discordant pairs."""
    a = np.asarray(a).astype(int)
    b = np.asarray(b).astype(int)
    if a.shape != b.shape or not np.isin(a, (0, 1)).all() or not np.isin(b, (0, 1)).all():
        raise ValueError("McNemar needs paired 0/1 outcomes of equal shape")
    only_a = int(np.sum((a == 1) & (b == 0)))
    only_b = int(np.sum((a == 0) & (b == 1)))
    if only_a + only_b == 0:
        return 1.0
    return float(sps.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def compare(a: Outcomes, b: Outcomes, test: str, *, direction: str, margin: float = 0.0, alpha: float = 0.05,
            n_boot: int = 4000, seed: int = 0) -> Comparison:
    """The registry's test by name: 'paired_bootstrap' or 'mcnemar' (CI from the bootstrap)."""
    result = paired_bootstrap(a, b, n_boot=n_boot, seed=seed, alpha=alpha, direction=direction, margin=margin)
    if test == "mcnemar":
        if a.n_seeds != 1 or direction == "noninferior":
            raise ValueError("McNemar applies to one seed of paired binary outcomes and a two-sided test")
        result.p = mcnemar_exact(a.values[0], b.values[0])
        result.test = "McNemar exact (CI: paired bootstrap)"
    elif test != "paired_bootstrap":
        raise ValueError(f"unknown test {test!r}")
    return result


def holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def decide(c: Comparison, p_adjusted: float, *, direction: str, alpha: float, min_effect: float, margin: float = 0.0) -> str:
    """supported / contradicted / inconclusive for one comparison.

    - greater (less): supported when the adjusted p is below alpha and the effect has the
      claimed sign; contradicted when it is significant with the other sign, or when the
      whole CI lies below (above) the smallest effect that matters, i.e. an effect of the
      claimed size is ruled out; otherwise inconclusive.
    - noninferior: supported when the adjusted one-sided p is below alpha (a - b > -margin);
      contradicted when the whole CI lies below -margin; otherwise inconclusive.
    """
    if direction == "noninferior":
        if p_adjusted < alpha:
            return "supported"
        return "contradicted" if c.ci_high < -margin else "inconclusive"
    sign = 1.0 if direction == "greater" else -1.0
    effect, lo, hi = sign * c.effect, *sorted((sign * c.ci_low, sign * c.ci_high))
    if p_adjusted < alpha and effect > 0:
        return "supported"
    if (p_adjusted < alpha and effect < 0) or hi < min_effect:
        return "contradicted"
    return "inconclusive"


def _check_paired(a: Outcomes, b: Outcomes) -> None:
    if a.values.shape != b.values.shape:
        raise ValueError(f"arms are not paired: shapes {a.values.shape} vs {b.values.shape}")
    if not np.array_equal(np.asarray(a.units), np.asarray(b.units)):
        raise ValueError("arms are not paired: their units differ or are in another order")
    if (a.strata is None) != (b.strata is None) or (a.strata is not None and not np.array_equal(a.strata, b.strata)):
        raise ValueError("arms are not paired: their strata differ")
