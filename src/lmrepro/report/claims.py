"""Decide every pre-registered claim from per-unit outcomes; render claims.json, the
verdict tables of results.md and the one-screen summary (README).

Why here: evaluate is the one stage that reads every track's outputs. The tracks supply
outcome loaders (``<track>/outcomes.py``), the registry supplies the tests, and
:mod:`lmrepro.claims` decides; no verdict is parsed from prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lmrepro.claims import engine, registry
from lmrepro.claims.engine import ClaimResult
from lmrepro.claims.loading import Loader, declared_outcomes
from lmrepro.edge import outcomes as edge_outcomes
from lmrepro.errors import LmreproError
from lmrepro.mta import outcomes as mta_outcomes
from lmrepro.prosg import outcomes as prosg_outcomes
from lmrepro.rec import outcomes as rec_outcomes

# registry `source` -> the track's loader factory (root -> loader)
LOADERS: dict[str, Callable[[Path], Loader]] = {
    "rec": rec_outcomes.loader,
    "mta": mta_outcomes.loader,
    "prosg": prosg_outcomes.loader,
    "edge_energy": edge_outcomes.energy_loader,
    "edge_robustness": edge_outcomes.robustness_loader,
}


@dataclass
class NotTested:
    """A registered claim whose arms this profile did not run (e.g. smoke runs two indexings)."""

    id: str
    paper: str
    claim: str
    test: str
    reason: str
    verdict: str = "not tested"

    def to_json(self) -> dict:
        return dict(self.__dict__)


def evaluate_claims(root: Path, n_boot: int, seed: int, out_root: Path | None = None,
                    declared: list[Path] | None = None) -> list[ClaimResult | NotTested]:
    """Every claim of every registry, in registry order (papers alphabetically by file).

    ``root`` holds the registries (workflow/claims); ``out_root`` the per-unit tables the
    loaders read (default ``root``; runs/<profile> for a non-default profile); ``declared``
    the tables this run declared (evaluate's inputs): any other file on disk counts as not
    run, so a table left by another grid is never paired with this run's."""
    if declared is not None:
        with declared_outcomes(declared):
            return evaluate_claims(root, n_boot, seed, out_root)
    data_root = out_root or root
    out: list[ClaimResult | NotTested] = []
    for reg in registry.load_all(root):
        if reg.source not in LOADERS:
            raise LmreproError(f"{reg.path}: no outcome loader for source {reg.source!r} (known: {sorted(LOADERS)})")
        load = LOADERS[reg.source](data_root)
        testable, missing = [], {}
        for claim in reg.claims:
            try:  # a claim is tested only if all of its arms exist in this profile
                for arm in (claim.a, *claim.b):
                    load(arm.select, claim.metric)
                testable.append(claim)
            except LmreproError as err:
                if "not found" not in str(err):
                    raise
                # paths relative to the repo: two copies of one run must write the same bytes
                missing[claim.id] = str(err).replace(f"{data_root.resolve()}/", "").replace(f"{data_root}/", "")
        tested = {r.id: r for r in engine.evaluate_paper(
            registry.Registry(reg.paper, reg.source, tuple(testable), reg.path), load, n_boot=n_boot, seed=seed)} if testable else {}
        for claim in reg.claims:
            out.append(tested.get(claim.id) or NotTested(
                id=claim.id, paper=claim.paper, claim=claim.claim, test=claim.test,
                reason=f"this profile did not run every arm ({missing[claim.id]})"))
    return out


RESULTS_SCHEMA = Path("workflow") / "schemas" / "claims_results.schema.yaml"


def claims_json(results: list[ClaimResult | NotTested], provenance: dict, root: Path) -> dict:
    """reports/claims.json, checked against its schema before it is written."""
    import jsonschema
    import yaml

    doc = {"provenance": provenance, "claims": [r.to_json() for r in results]}
    schema = yaml.safe_load((root / RESULTS_SCHEMA).read_text(encoding="utf-8"))
    errors = [f"  {'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    if errors:
        raise LmreproError(f"reports/claims.json would not match {RESULTS_SCHEMA}:\n" + "\n".join(errors))
    return doc


def _num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3g}" if x >= 0.001 else "<0.001"


def _ratio(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "no scenario both designs can serve"
    return f"energy ratio competitor/a {lo:.2f}-{hi:.2f} where both can serve"


def _effect_line(r: ClaimResult) -> str:
    if r.statistic == "region":
        return (f"a wins in {r.effect:.0%} of {r.n} scenarios of the region against the weakest competitor "
                f"({_ratio(r.ci_low, r.ci_high)}; deterministic model, no sampling error)")
    what = "a - b" if r.direction != "noninferior" else f"a - b (margin -{r.margin:g})"
    line = (f"{what} = {r.effect:+.4f} [95% CI {r.ci_low:+.4f}, {r.ci_high:+.4f}], n = {r.n} {r.unit}s"
            + (f" x {r.seeds} seeds" if r.seeds > 1 else "") + f", p (Holm) = {_p(r.p)}")
    below = (r.ci_high < r.min_effect if r.direction == "greater"
             else r.ci_low > -r.min_effect if r.direction == "less" else False)
    if r.verdict == "supported" and below:
        line += (f"; the whole CI lies below the registry's smallest effect that matters ({r.min_effect:g}): "
                 "significant, but smaller than the claim's size")
    if r.mde is not None:
        line += f"; smallest detectable effect at this n: {r.mde:.4f}"
    if r.verdict == "inconclusive" and r.mde is not None:
        need = f"{r.n_needed:,.0f}" if r.n_needed is not None else "unbounded (observed effect 0)"
        line += f"; {r.unit}s needed for the observed effect: {need}"
    return line


def render_paper(results: list[ClaimResult | NotTested], paper: str) -> str:
    """The verdict block of one paper: one bullet per claim with effect, CI, n, p and arms."""
    rows = [r for r in results if r.paper == paper]
    if not rows:
        return ""
    lines = [f"### {paper}: pre-registered claims (workflow/claims), paired tests", ""]
    for r in rows:
        if isinstance(r, NotTested):
            lines.append(f"- **{r.id}**: {r.claim} Test: {r.test} Verdict: **not tested**: {r.reason}.")
            continue
        arms = f"a = {r.arms['a']}; b = " + " | ".join(r.arms["b"])
        lines.append(f"- **{r.id}** ({r.statistic.replace('_', ' ')}, {r.metric}): {r.claim} Test: {r.test} "
                     f"Arms: {arms}. Result: {_effect_line(r)}. Verdict: **{r.verdict}**.")
        if len(r.comparisons) > 1:
            for c in r.comparisons:
                if r.statistic == "region":
                    lines.append(f"  - vs {c.b}: a wins in {c.effect:.0%} of {c.n} scenarios "
                                 f"({_ratio(c.ci_low, c.ci_high)}): {c.verdict}")
                else:
                    lines.append(f"  - vs {c.b}: {c.effect:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}], "
                                 f"a {c.mean_a:.4f} vs b {c.mean_b:.4f}, p = {_p(c.p)} (unadjusted; decided at the "
                                 f"claim's Holm step), detectable at this n: {_num(c.mde)}: {c.verdict}")
    tuned = sorted({t for r in rows if isinstance(r, ClaimResult) for t in r.tuned})
    if tuned:
        lines += ["", "Choices made on data for these arms: " + " ".join(f"({i + 1}) {t}." for i, t in enumerate(tuned))]
    return "\n".join(lines) + "\n"


def render_verdicts(results: list[ClaimResult | NotTested]) -> str:
    papers = list(dict.fromkeys(r.paper for r in results))
    intro = (
        "## Verdicts\n\n"
        "Every claim below was registered before its results existed (workflow/claims/*.yaml: arms, metric, "
        "direction, pairing unit, test, alpha, smallest effect that matters). Effects are a - b on per-unit "
        "outcomes (users, examples, items, rows) that both arms share; CIs are 95% paired-bootstrap intervals "
        "(seeds resampled too where a claim has several); p is Holm-adjusted across the claims of one paper. "
        "A claim with several comparators must hold against each. supported: significant in the claimed "
        "direction; contradicted: significant the other way, or an effect of the claimed size ruled out; "
        "inconclusive: neither (with the smallest effect this n could detect). A significant effect whose "
        "whole CI lies below the smallest effect that matters is supported, and its line says so. Each "
        "comparison is decided at its claim's Holm step. Machine-readable: "
        "reports/claims.json.\n"
    )
    return intro + "\n" + "\n".join(render_paper(results, p) for p in papers)


def render_summary(results: list[ClaimResult | NotTested], provenance: dict) -> str:
    """The README block: one row per claim, straight from the claim results."""
    if not results:
        return "No claim has a verdict yet: run the pipeline (`make reproduce`).\n"
    head = (f"Profile `{provenance['profile']}`, params {provenance['params_hash'][:12]}, "
            f"commit {provenance['git_commit'][:12]}.\n\n")
    lines = ["| paper | claim | our test (arms) | effect [95% CI], n | verdict |", "|---|---|---|---|---|"]
    for r in results:
        if isinstance(r, NotTested):
            lines.append(f"| {r.paper} | {r.id} | {_short(r.test)} | | not tested |")
            continue
        if r.statistic == "region":
            eff = f"wins {r.effect:.0%} of {r.n} scenarios"
        else:
            eff = f"{r.effect:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}], n={r.n}" + (f"x{r.seeds}" if r.seeds > 1 else "")
        arms = f"{r.arms['a']} vs {' / '.join(r.arms['b'])}"
        lines.append(f"| {r.paper} | {r.id} | {_short(arms)} | {eff} | {r.verdict} |")
    lines += ["", "Claims, tests and numbers: [reports/results.md](reports/results.md) (Verdicts) and "
              "[reports/claims.json](reports/claims.json)."]
    return head + "\n".join(lines) + "\n"


def _short(text: str, width: int = 90) -> str:
    text = text.replace("|", "/")
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."
