"""Verdicts from the registry and per-unit outcomes: one result per claim.

A claim compares arm a with each of its comparators b (an intersection-union test: it
holds only if it holds against every comparator, so the claim's p is the largest of the
comparisons' p). Holm's correction runs across the claims of one paper. ``region``
claims (the edge energy model) are deterministic: there is no sampling error, so the
verdict reads the share of the pre-registered operating region in which a wins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from lmrepro.claims import stats
from lmrepro.claims.loading import LOSES
from lmrepro.claims.registry import Arm, Claim, Registry

# select dict, metric -> per-unit outcomes of that arm
Loader = Callable[[dict, str], stats.Outcomes]


@dataclass
class ComparisonResult:
    b: str
    effect: float
    ci_low: float | None
    ci_high: float | None
    p: float | None
    n: int
    seeds: int
    mean_a: float
    mean_b: float
    verdict: str
    mde: float | None = None
    n_needed: float | None = None


@dataclass
class ClaimResult:
    id: str
    paper: str
    claim: str
    test: str
    statistic: str
    arms: dict[str, Any]
    metric: str
    unit: str
    direction: str
    alpha: float
    min_effect: float
    margin: float
    n: int
    seeds: int
    effect: float
    ci_low: float | None
    ci_high: float | None
    p: float | None  # Holm-adjusted across the paper's claims (None: deterministic region claim)
    p_raw: float | None
    verdict: str
    mde: float | None
    n_needed: float | None
    tuned: list[str]
    comparisons: list[ComparisonResult] = field(default_factory=list)

    def to_json(self) -> dict:
        return _rounded(asdict(self))


def _rounded(node):
    if isinstance(node, float):
        return float(f"{node:.6g}")
    if isinstance(node, dict):
        return {k: _rounded(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rounded(v) for v in node]
    return node


def _region(claim: Claim, a: stats.Outcomes, b: stats.Outcomes, label: str) -> ComparisonResult:
    """Share of scenarios in which a's value is lower (a wins) than b's; ratio range b/a."""
    stats._check_paired(a, b)
    va, vb = a.values.mean(axis=0), b.values.mean(axis=0)
    wins = float(np.mean(va < vb))
    # a design that cannot serve a scenario (loaders give it LOSES, see claims.loading)
    # loses it; ratios are over the scenarios both can serve
    both = (va < LOSES) & (vb < LOSES)
    ratio = np.where(both, vb, np.nan) / np.where(both & (va > 0), va, np.nan)
    if not both.any():
        ratio = np.array([np.nan])
    verdict = "supported" if wins == 1.0 else ("contradicted" if wins < 0.5 else "inconclusive")
    lo, hi = (None, None) if np.isnan(ratio).all() else (float(np.nanmin(ratio)), float(np.nanmax(ratio)))
    return ComparisonResult(b=label, effect=wins, ci_low=lo, ci_high=hi, p=None,
                            n=a.n_units, seeds=1, mean_a=float(va.mean()), mean_b=float(vb.mean()), verdict=verdict)


def _weakest(claim: Claim, comps: list[ComparisonResult]) -> ComparisonResult:
    """The comparison that limits the claim: smallest effect in the claimed direction."""
    sign = -1.0 if claim.direction == "less" else 1.0
    return min(comps, key=lambda c: sign * c.effect)


def evaluate_paper(reg: Registry, loader: Loader, *, n_boot: int = 4000, seed: int = 0) -> list[ClaimResult]:
    raw: list[tuple[Claim, list[stats.Comparison] | None, list[ComparisonResult]]] = []
    for claim in reg.claims:
        a = loader({**claim.a.select, **claim.region}, claim.metric)
        if claim.statistic == "region":
            comps = [_region(claim, a, loader({**b.select, **claim.region}, claim.metric), b.label) for b in claim.b]
            raw.append((claim, None, comps))
            continue
        tested = [
            stats.compare(a, loader({**b.select, **claim.region}, claim.metric), claim.statistic, direction=claim.direction,
                          margin=claim.margin, alpha=claim.alpha, n_boot=n_boot, seed=seed)
            for b in claim.b
        ]
        raw.append((claim, tested, []))
    # Holm across this paper's sampled claims; the claim p is its largest comparison p
    sampled = [i for i, (_, tested, _) in enumerate(raw) if tested is not None]
    claim_p = [max(t.p for t in raw[i][1]) for i in sampled]
    adjusted = dict(zip(sampled, stats.holm(claim_p)))
    results = []
    for i, (claim, tested, comps) in enumerate(raw):
        if tested is not None:
            p_adj, p_raw = adjusted[i], max(t.p for t in tested)
            # each comparison is decided at the claim's Holm step (its p times the factor that
            # turned the claim's p, its largest comparison p, into p_adj): the claim's verdict
            # is then exactly "supported against every comparator", and a one-comparator claim
            # and its comparison can never disagree (they did when comparisons used Bonferroni)
            scale = p_adj / p_raw if p_raw > 0 else 1.0
            comps = []
            for b, t in zip(claim.b, tested):
                verdict = stats.decide(t, min(1.0, t.p * scale), direction=claim.direction, alpha=claim.alpha,
                                       min_effect=claim.min_effect, margin=claim.margin)
                comps.append(ComparisonResult(b=b.label, effect=t.effect, ci_low=t.ci_low, ci_high=t.ci_high, p=t.p,
                                              n=t.n, seeds=t.seeds, mean_a=t.mean_a, mean_b=t.mean_b, verdict=verdict,
                                              mde=t.mde(claim.alpha), n_needed=t.n_needed(claim.alpha)))
            if all(c.verdict == "supported" for c in comps):
                verdict = "supported"
            elif any(c.verdict == "contradicted" for c in comps):
                verdict = "contradicted"
            else:
                verdict = "inconclusive"
        else:
            p_adj = p_raw = None
            verdict = ("supported" if all(c.verdict == "supported" for c in comps)
                       else "contradicted" if any(c.verdict == "contradicted" for c in comps) else "inconclusive")
        weakest = _weakest(claim, comps)
        results.append(
            ClaimResult(
                id=claim.id, paper=claim.paper, claim=claim.claim, test=claim.test, statistic=claim.statistic,
                arms={"a": claim.a.label, "b": [b.label for b in claim.b]}, metric=claim.metric, unit=claim.unit,
                direction=claim.direction, alpha=claim.alpha, min_effect=claim.min_effect, margin=claim.margin,
                n=weakest.n, seeds=weakest.seeds, effect=weakest.effect, ci_low=weakest.ci_low, ci_high=weakest.ci_high,
                p=p_adj, p_raw=p_raw, verdict=verdict,
                mde=weakest.mde,  # every sampled verdict states what this n could detect
                n_needed=weakest.n_needed if verdict == "inconclusive" else None,
                tuned=list(claim.tuned), comparisons=comps,
            )
        )
    return results


def arm_labels(arms: list[Arm]) -> str:
    return ", ".join(a.label for a in arms)
