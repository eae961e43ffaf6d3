"""Where the heterogeneous design wins: per competitor, over the pre-registered region.

The energy claims (workflow/claims/edge_energy.yaml) pit each heterogeneous design
(``a``, one per model x eNVM technology) against every design an architect would propose
(``b``), over an operating region fixed before any result existed. This module reads the
same file, so the energy stage's tables and the claims engine's verdicts cannot drift
apart, and answers the questions a verdict alone hides:

- **win share** per competitor: the share of the region's scenarios in which the
  heterogeneous design uses less energy per inference (the claims engine's rule: a design
  that is infeasible there, or wears out within ``min_lifetime_years``, loses the scenario);
- **crossover rate**: at a fixed point (adapter size, task count, switch rate) the energy
  of every design is exactly ``E(p) = A + B p`` in the period ``p = 1/rate`` while the
  design is feasible (leakage of the always-on memories and off-chip standby grow with
  the period, the rest is per inference). Two designs' energies therefore cross at most
  once, at ``rate* = -(B_h - B_c) / (A_h - A_c)``; the heterogeneous design wins below it
  when it has the smaller period term (B_h < B_c) and above it otherwise;
- **winner map**: the cheapest design that can serve each (rate, task count) cell, on a
  dense log grid of rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.typing import Series

from lmrepro import io
from lmrepro.edge import energy as E
from lmrepro.errors import LmreproError

SCENARIO = ["model", "bottleneck", "n_tasks", "rate_hz", "switch_rate", "sparsity"]
POINT = ["model", "bottleneck", "n_tasks", "switch_rate", "sparsity"]  # a scenario without its rate
ARM_KEYS = {"model", "design_label"}  # what an energy claim's arm may select on


@dataclass(frozen=True)
class Region:
    """The pre-registered operating region (claims file ``defaults.region``)."""

    rate_hz_max: float = np.inf
    rate_hz_min: float = 0.0
    n_tasks_min: int = 1
    sparsity: float = 0.0
    min_lifetime_years: float = 0.0

    def contains(self, df: pd.DataFrame) -> np.ndarray:
        return ((df.rate_hz <= self.rate_hz_max) & (df.rate_hz >= self.rate_hz_min)
                & (df.n_tasks >= self.n_tasks_min) & np.isclose(df.sparsity, self.sparsity)).to_numpy()


@dataclass(frozen=True)
class Contest:
    """One energy claim: the heterogeneous design of one model and technology vs its competitors."""

    claim_id: str
    model: str
    hetero: str  # design_label of arm a
    competitors: tuple[tuple[str, str], ...]  # (label in the claims file, design_label)


def _arm(node: dict, where: str) -> tuple[str, str]:
    select = dict(node.get("select", {}))
    extra = sorted(set(select) - ARM_KEYS)
    if extra or not {"model", "design_label"} <= set(select):
        raise LmreproError(f"{where}: an energy arm selects exactly model and design_label (got {sorted(select)})")
    return str(select["model"]), str(select["design_label"])


def load_contests(path: Path) -> tuple[Region, list[Contest]]:
    """The region and the contests of the energy claims file (one region for all claims)."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise LmreproError(f"{path}: cannot read the energy claims ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise LmreproError(f"{path}: expected a claims registry with a 'claims' list")
    default = dict((doc.get("defaults") or {}).get("region") or {})
    contests = []
    for i, node in enumerate(doc["claims"]):
        where = f"{path}: claims[{i}]"
        if dict(node.get("region", default)) != default:
            raise LmreproError(f"{where}: every energy claim must use the file's one region (defaults.region)")
        model, hetero = _arm(node["a"], f"{where}.a")
        b = node["b"] if isinstance(node["b"], list) else [node["b"]]
        comps = []
        for j, arm in enumerate(b):
            m, lab = _arm(arm, f"{where}.b[{j}]")
            if m != model:
                raise LmreproError(f"{where}.b[{j}]: competitor of model {m!r} in a claim about {model!r}")
            comps.append((str(arm["label"]), lab))
        contests.append(Contest(str(node["id"]), model, hetero, tuple(comps)))
    unknown = sorted(set(default) - {"rate_hz_max", "rate_hz_min", "n_tasks_min", "sparsity", "min_lifetime_years"})
    if unknown:
        raise LmreproError(f"{path}: defaults.region has keys the energy stage does not know: {unknown}")
    return Region(**{k: v for k, v in default.items()}), contests


# ---------------------------------------------------------------------------- serving and winning


def serves(df: pd.DataFrame, region: Region) -> np.ndarray:
    """Whether a design can serve its scenario: feasible, and its eNVM outlives the minimum."""
    return (df.feasible & (df.lifetime_years >= region.min_lifetime_years)).to_numpy()


def _by_label(results: pd.DataFrame, label: str) -> pd.DataFrame:
    rows = results[results.design_label.astype(str) == label]
    if rows.empty:
        raise LmreproError(f"energy results have no design {label!r} (named in the energy claims)")
    return rows.set_index(SCENARIO)


def cost(rows: pd.DataFrame, region: Region) -> pd.Series:
    """Energy per inference where the design serves, +inf where it cannot (it loses there)."""
    return pd.Series(np.where(serves(rows, region), rows.total_uj, np.inf), index=rows.index)


def win_shares(results: pd.DataFrame, contests: list[Contest], region: Region) -> list[dict]:
    """Per contest and competitor: share of the region's scenarios the heterogeneous design wins."""
    inside = results[region.contains(results)]
    if inside.empty:
        raise LmreproError("no scenario of the energy sweep lies in the claims' region (edge.energy.sweep)")
    out = []
    for c in contests:
        h = cost(_by_label(inside, c.hetero), region)
        best_other = pd.Series(np.inf, index=h.index)
        for label, design in c.competitors:
            o = cost(_by_label(inside, design), region).reindex(h.index)
            if o.isna().any():
                raise LmreproError(f"{design!r} lacks scenarios that {c.hetero!r} has (claim {c.claim_id})")
            best_other = np.minimum(best_other, o)
            out.append({"claim": c.claim_id, "model": c.model, "hetero": c.hetero, "competitor": design,
                        "competitor_label": label, "win_share": float(np.mean(h < o)), "scenarios": int(len(h))})
        out.append({"claim": c.claim_id, "model": c.model, "hetero": c.hetero, "competitor": "every competitor",
                    "competitor_label": "every competitor", "win_share": float(np.mean(h < best_other)),
                    "scenarios": int(len(h))})
    return out


# ---------------------------------------------------------------------------- E = A + B p


def period_terms(grid: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame, cfg: E.EnergyConfig) -> pd.DataFrame:
    """Per design and point (the grid's rate ignored): the per-inference energy A (uJ), the
    energy per second of period B (uJ/s), the active time (s) and the highest rate the
    design can serve (feasibility; all_envm's wear-out is added by :func:`max_rate`).

    Evaluated with the simulator itself at two periods longer than every active time,
    where E is exactly linear in the period."""
    one = grid.drop_duplicates([*POINT, "design", "backbone_tech", "offchip"]).copy()
    probe = E.simulate(one.assign(rate_hz=1.0), workload, table, cfg)
    p1 = max(1.0, 4.0 * float(probe.latency_ms.max()) / 1e3)
    e1 = E.simulate(one.assign(rate_hz=1.0 / p1), workload, table, cfg)
    e2 = E.simulate(one.assign(rate_hz=1.0 / (2.0 * p1)), workload, table, cfg)
    out = e1[[*POINT, "design", "backbone_tech", "offchip", "design_label", "latency_ms"]].copy()
    out["B_uj_per_s"] = (e2.total_uj.to_numpy() - e1.total_uj.to_numpy()) / p1
    out["A_uj"] = 2.0 * e1.total_uj.to_numpy() - e2.total_uj.to_numpy()
    out["t_active_s"] = e1.latency_ms.to_numpy() / 1e3
    # lifetime x rate is constant (endurance / switches per second): keep it per rate
    out["life_rate"] = e1.lifetime_years.to_numpy() * (1.0 / p1)
    return out.drop(columns="latency_ms")


def max_rate(terms: pd.DataFrame, region: Region) -> np.ndarray:
    """Highest rate a design serves: 1 / active time, and for wearing designs the rate
    at which the eNVM lasts exactly ``min_lifetime_years``."""
    feasible = 1.0 / terms.t_active_s.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        wear = np.where(region.min_lifetime_years > 0, terms.life_rate.to_numpy() / region.min_lifetime_years, np.inf)
    return np.minimum(feasible, np.where(np.isnan(wear), np.inf, wear))


def crossover(a_h, b_h, a_c, b_c) -> tuple[np.ndarray, np.ndarray]:
    """Rate where E_h = E_c and on which side the heterogeneous design wins:
    'below', 'above', 'always' (every rate) or 'never'. Arrays in, arrays out."""
    da = np.asarray(a_h, float) - np.asarray(a_c, float)
    db = np.asarray(b_h, float) - np.asarray(b_c, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = -db / da
    crossing = (rate > 0) & np.isfinite(rate)
    # without a crossing da and db do not have opposite signs: one sign at every period
    always = (da <= 0) & (db <= 0) & ((da < 0) | (db < 0))
    side = np.where(crossing, np.where(db < 0, "below", "above"), np.where(always, "always", "never"))
    return np.where(crossing, rate, np.nan), side


def win_intervals(side: str, rate: float | None, hetero_max: float | None, comp_max: float | None) -> list[list]:
    """Rates (lo, hi] at which the heterogeneous design wins at one point: it must serve
    (rate <= hetero_max) and either use less energy there (``side`` of the crossover) or
    face a competitor that cannot serve (rate > comp_max). ``None`` bounds: 0 / unbounded."""
    h_max = np.inf if hetero_max is None else hetero_max
    c_max = np.inf if comp_max is None else comp_max
    energy = {"always": [(0.0, np.inf)], "never": [], "below": [(0.0, rate)], "above": [(rate, np.inf)]}[side]
    spans = sorted([*energy, *([(c_max, np.inf)] if np.isfinite(c_max) else [])])
    merged: list[list[float]] = []
    for lo, hi in spans:
        lo, hi = lo, min(hi, h_max)
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [[float(lo), float(hi) if np.isfinite(hi) else None] for lo, hi in merged]


def crossovers(terms: pd.DataFrame, contests: list[Contest], region: Region, reference: dict,
               ref_necks: dict) -> list[dict]:
    """Per contest and competitor: the crossover at the reference point (tasks, switch rate;
    adapter size per model, ``ref_necks``) and its range over the region's other coordinates."""
    t = terms.assign(max_rate_hz=max_rate(terms, region))
    inside = t[(t.n_tasks >= region.n_tasks_min) & np.isclose(t.sparsity, region.sparsity)]
    neck = t.model.astype(str).map(ref_necks)
    ref = ((t.bottleneck == neck) & (t.n_tasks == reference["n_tasks"])
           & np.isclose(t.switch_rate, reference["switch_rate"]) & np.isclose(t.sparsity, region.sparsity))
    out = []
    for c in contests:
        for label, design in c.competitors:
            row = {"claim": c.claim_id, "model": c.model, "hetero": c.hetero, "competitor": design,
                   "competitor_label": label}
            for name, sel in (("reference", t[ref]), ("region", inside)):
                sel = sel[sel.model == c.model]
                h = sel[sel.design_label.astype(str) == c.hetero].set_index(POINT)
                o = sel[sel.design_label.astype(str) == design].set_index(POINT).reindex(h.index)
                if h.empty or o.A_uj.isna().any():
                    raise LmreproError(f"no {name} point for {c.hetero!r} vs {design!r} (edge.energy.reference/sweep)")
                rate, side = crossover(h.A_uj, h.B_uj_per_s, o.A_uj, o.B_uj_per_s)
                if name == "reference":
                    row.update(crossover_hz=float(rate[0]) if np.isfinite(rate[0]) else None, hetero_wins=str(side[0]),
                               hetero_max_rate_hz=_finite(h.max_rate_hz.iloc[0]),
                               competitor_max_rate_hz=_finite(o.max_rate_hz.iloc[0]))
                    row["wins_at_hz"] = win_intervals(row["hetero_wins"], row["crossover_hz"],
                                                      row["hetero_max_rate_hz"], row["competitor_max_rate_hz"])
                else:
                    finite = rate[np.isfinite(rate)]
                    row.update(region_crossover_min_hz=float(finite.min()) if len(finite) else None,
                               region_crossover_max_hz=float(finite.max()) if len(finite) else None,
                               region_sides=sorted(set(side.tolist())))
            out.append(row)
    return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def check_linear(results: pd.DataFrame, terms: pd.DataFrame, rtol: float = 1e-9) -> float:
    """Largest relative gap between the sweep's feasible energies and A + B / rate (the
    crossover rates rely on it); raises if it exceeds ``rtol``."""
    key = [*POINT, "design_label"]
    t = terms.assign(design_label=terms.design_label.astype(str)).set_index(key)
    r = results[results.feasible].assign(design_label=lambda d: d.design_label.astype(str))
    tt = t.reindex(pd.MultiIndex.from_frame(r[key]))
    pred = tt.A_uj.to_numpy() + tt.B_uj_per_s.to_numpy() / r.rate_hz.to_numpy()
    gap = float(np.nanmax(np.abs(pred - r.total_uj.to_numpy()) / r.total_uj.to_numpy())) if len(r) else 0.0
    if not np.isfinite(gap) or gap > rtol:
        raise LmreproError(f"energy is not A + B/rate at feasible sweep points (relative gap {gap:.3g}); "
                           "the crossover rates would be wrong")
    return gap


# ---------------------------------------------------------------------------- winner map


def winner_map(results: pd.DataFrame, contests: list[Contest], region: Region) -> pd.DataFrame:
    """Per contest (model x technology) and (rate, task count): the cheapest design that
    serves, among the heterogeneous design and its competitors; and hetero's saving against
    the cheapest competitor that serves (competitor energy / hetero energy)."""
    rows = []
    for c in contests:
        labels = [c.hetero, *(d for _, d in c.competitors)]
        sel = results[(results.model == c.model) & results.design_label.astype(str).isin(labels)]
        key = ["rate_hz", "n_tasks"]
        costs = pd.DataFrame({lab: cost(_by_label(sel, lab), region) for lab in labels})
        costs = costs.reset_index()
        others = costs[labels[1:]].to_numpy()
        best_other = others.min(axis=1)
        winner_at = costs[labels].to_numpy().argmin(axis=1)
        none = ~np.isfinite(costs[labels].to_numpy()).any(axis=1)
        tech = str(sel[sel.design_label.astype(str) == c.hetero].backbone_tech.iloc[0])
        h = costs[c.hetero].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            saving = np.where(np.isfinite(h) & np.isfinite(best_other), best_other / h, np.nan)
        frame = costs[key].copy()
        frame.insert(0, "technology", tech)
        frame.insert(0, "model", c.model)
        frame["winner"] = np.where(none, "none", np.array(labels, dtype=object)[winner_at])
        frame["hetero_wins"] = (h < best_other).astype(int)
        frame["saving"] = saving
        frame["in_region"] = region.contains(costs.assign(sparsity=sel.sparsity.iloc[0])).astype(int)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True).sort_values(["model", "technology", "n_tasks", "rate_hz"],
                                                          ignore_index=True)


def map_grid(models_necks: dict, sweep_n_tasks, rates, reference: dict, cfg: E.EnergyConfig,
             sparsity: float = 0.0) -> pd.DataFrame:
    """The winner map's grid: every design at the reference adapter size and switch rate,
    the sweep's task counts and a dense log grid of rates."""
    sweep = E.SweepConfig(tuple(sweep_n_tasks), tuple(float(r) for r in rates), (float(reference["switch_rate"]),),
                          (sparsity,))
    grids = [E.make_grid([m], [neck], E.DESIGNS, cfg.envm, sweep, sram=cfg.sram, refill_from=cfg.gated_refill_from,
                         adapter_store=cfg.adapter_store) for m, neck in models_necks.items()]
    return pd.concat(grids, ignore_index=True)


class WinnerMapTable(pa.DataFrameModel):
    """The winner map's data (reports/edge/winner_map.csv; x = rate_hz, y = n_tasks)."""

    model: Series[str]
    technology: Series[str]
    rate_hz: Series[float] = pa.Field(gt=0)
    n_tasks: Series[int] = pa.Field(ge=1)
    winner: Series[str]
    hetero_wins: Series[int] = pa.Field(isin=[0, 1])
    saving: Series[float] = pa.Field(nullable=True, ge=0)
    in_region: Series[int] = pa.Field(isin=[0, 1])

    class Config:
        strict = True
        coerce = True
        unique = ["model", "technology", "rate_hz", "n_tasks"]


def write_csv(df: pd.DataFrame, path: Path, schema: type[pa.DataFrameModel]) -> None:
    """Schema-checked CSV (plot data for `dvc plots`), written atomically, 6 significant digits."""
    checked = io.validate(df, schema, path)
    with io.atomic_path(path) as tmp:
        checked.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")
