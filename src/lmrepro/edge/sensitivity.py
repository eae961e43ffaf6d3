"""One-at-a-time sensitivity of the heterogeneous design's saving, and the inputs' sources.

Every assumed constant of the energy model (params ``edge.energy.sensitivity``) is moved
alone to each value of its stated plausible range, all others kept at their params
values. The quantity is the saving of each heterogeneous design against its strongest
competitor at the reference point: the energy per inference of the cheapest competitor
that can serve the point (feasible, lasting the claims' minimum lifetime) divided by the
heterogeneous design's (> 1: hetero wins). The strongest competitor is re-chosen under
each change, so a change that makes another design the cheapest is priced in. Its sign
(> 1 or < 1) is what a verdict rests on; :func:`survives` says whether any single change
flips it. Each change also reports the share of the pre-registered region in which the
heterogeneous design beats every competitor.

``edge.energy.sources`` names where every constant's value comes from (datasheet,
standard, paper, or "assumption: ..." for an engineering judgement); the report prints
them, and a constant without a source is an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from lmrepro.edge import energy as E
from lmrepro.edge import region as R
from lmrepro.errors import LmreproError

# constants of the energy model that need a cited source (endurance entries are added per eNVM)
CONSTANTS = ("e_mac_pj", "dram_pj_per_bit", "dram_gb_per_s", "clock_ghz", "macs_per_cycle", "scaling",
             "nvm_power_gating", "dram_wakeup_us", "dram_standby_mw_per_gbit", "flash.pj_per_bit",
             "flash.gb_per_s", "flash.wakeup_us", "flash.standby_mw_per_gbit")
ASSUMPTION = "assumption"  # a source starting with this word is an engineering judgement, not a citation


class TornadoTable(pa.DataFrameModel):
    """The tornado figure's data (reports/edge/tornado.csv; x = saving, y = knob)."""

    claim: Series[str]
    model: Series[str]
    technology: Series[str]
    knob: Series[str]
    value: Series[str]
    saving: Series[float] = pa.Field(ge=0)
    strongest: Series[str]
    region_win_share: Series[float] = pa.Field(ge=0, le=1)
    base_saving: Series[float] = pa.Field(ge=0)
    base_strongest: Series[str]
    base_region_win_share: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        coerce = True
        unique = ["claim", "knob", "value"]


@dataclass(frozen=True)
class Knob:
    """One constant and the values it takes in the one-at-a-time study."""

    name: str  # dotted field of EnergyConfig: e_mac_pj, flash.wakeup_us, envm_endurance.RRAM
    values: tuple[Any, ...]
    source: str  # where the range comes from


def get_value(cfg: E.EnergyConfig, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if dataclasses.is_dataclass(node) and part in {f.name for f in dataclasses.fields(node)}:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise LmreproError(f"edge.energy has no constant {dotted!r}")
    return node


def with_value(cfg, dotted: str, value: Any, _full: str | None = None):
    """A copy of ``cfg`` with one (possibly nested) constant replaced; the type must match."""
    full = _full or dotted
    head, _, rest = dotted.partition(".")
    if dataclasses.is_dataclass(cfg):
        if head not in {f.name for f in dataclasses.fields(cfg)}:
            raise LmreproError(f"edge.energy has no constant {full!r}")
        current = getattr(cfg, head)
        new = with_value(current, rest, value, full) if rest else _checked(current, value, full)
        return dataclasses.replace(cfg, **{head: new})
    if isinstance(cfg, dict):
        if head not in cfg:
            raise LmreproError(f"edge.energy has no constant {full!r}")
        new = with_value(cfg[head], rest, value, full) if rest else _checked(cfg[head], value, full)
        return {**cfg, head: new}
    raise LmreproError(f"edge.energy: {full!r} is not a constant")


def _checked(current: Any, value: Any, dotted: str) -> Any:
    if isinstance(current, bool) or isinstance(value, bool):
        if not (isinstance(current, bool) and isinstance(value, bool)):
            raise LmreproError(f"edge.energy.sensitivity.{dotted}: value {value!r} must be true/false like the constant")
        return value
    if isinstance(current, str):
        if not isinstance(value, str):
            raise LmreproError(f"edge.energy.sensitivity.{dotted}: value {value!r} must be a name like {current!r}")
        return value
    if not isinstance(value, (int, float)) or value <= 0:
        raise LmreproError(f"edge.energy.sensitivity.{dotted}: value {value!r} must be a positive number")
    return type(current)(value) if isinstance(current, int) and float(value).is_integer() else float(value)


def parse_knobs(section: dict, cfg: E.EnergyConfig) -> list[Knob]:
    """``edge.energy.sensitivity`` -> knobs, each value checked against the constant's type."""
    knobs = []
    for name, node in section.items():
        where = f"edge.energy.sensitivity.{name}"
        if not isinstance(node, dict) or not node.get("values") or not str(node.get("source", "")).strip():
            raise LmreproError(f"{where}: needs 'values' (a non-empty list) and 'source' (where the range comes from)")
        for v in node["values"]:
            with_value(cfg, name, v)  # raises on a bad name or type
        knobs.append(Knob(name, tuple(node["values"]), str(node["source"]).strip()))
    return knobs


def input_table(cfg: E.EnergyConfig, sources: dict, knobs: list[Knob]) -> list[dict]:
    """Every constant with its value, source, whether it is an assumption, and its range."""
    names = [*CONSTANTS, *(f"envm_endurance.{t}" for t in cfg.envm)]
    missing = [n for n in names if not str(sources.get(n, "")).strip()]
    if missing:
        raise LmreproError("edge.energy.sources: no source for " + ", ".join(missing)
                           + f" (cite one, or write '{ASSUMPTION}: ...' for an engineering judgement)")
    extra = sorted(set(sources) - set(names))
    if extra:
        raise LmreproError(f"edge.energy.sources: unknown constant(s) {extra}; expected some of {names}")
    ranges = {k.name: k for k in knobs}
    out = []
    for n in names:
        src = str(sources[n]).strip()
        k = ranges.get(n)
        out.append({"constant": n, "value": get_value(cfg, n), "source": src,
                    "assumption": _kind(src),
                    "range": list(k.values) if k else None, "range_source": k.source if k else None})
    return out


def _kind(source: str) -> str:
    """'yes': the value is an engineering judgement; 'partly': a citation with an assumption
    on top (e.g. a datasheet of a related part); 'no': cited as is."""
    low = source.lower()
    return "yes" if low.startswith(ASSUMPTION) else "partly" if ASSUMPTION in low else "no"


# ---------------------------------------------------------------------------- savings


def strongest(results: pd.DataFrame, contests: list[R.Contest], region: R.Region) -> pd.DataFrame:
    """Per contest and point: hetero's energy, the strongest serving competitor and the saving."""
    rows = []
    for c in contests:
        sel = results[results.model == c.model]
        h = R.cost(R._by_label(sel, c.hetero), region)
        others = pd.DataFrame({lab: R.cost(R._by_label(sel, lab), region).reindex(h.index)
                               for _, lab in c.competitors})
        best = others.min(axis=1)
        which = others.idxmin(axis=1).where(np.isfinite(best), "none")
        with np.errstate(divide="ignore", invalid="ignore"):
            saving = np.where(np.isfinite(h), best / h, 0.0)  # hetero cannot serve: it loses (0)
        tech = str(sel[sel.design_label.astype(str) == c.hetero].backbone_tech.iloc[0])
        rows.append(pd.DataFrame({"claim": c.claim_id, "model": c.model, "technology": tech, "saving": saving,
                                  "strongest": which.to_numpy()}, index=h.index))
    return pd.concat(rows)


def one_at_a_time(ref_grid: pd.DataFrame, region_grid: pd.DataFrame, workload: pd.DataFrame, table: pd.DataFrame,
                  cfg: E.EnergyConfig, knobs: list[Knob], contests: list[R.Contest], region: R.Region) -> pd.DataFrame:
    """Rows: contest x knob x value, with the reference-point saving (and its base value),
    the strongest competitor, and hetero's share of the region won against every competitor."""

    def evaluate(c):
        ref = strongest(E.simulate(ref_grid, workload, table, c), contests, region).reset_index(drop=True)
        shares = [s for s in R.win_shares(E.simulate(region_grid, workload, table, c), contests, region)
                  if s["competitor"] == "every competitor"]
        ref["region_win_share"] = [s["win_share"] for s in shares]
        return ref

    base = evaluate(cfg)
    if len(base) != len(contests):
        raise LmreproError("edge.energy.reference must pick exactly one point per contest for the sensitivity study")
    rows = []
    for knob in knobs:
        for value in knob.values:
            got = evaluate(with_value(cfg, knob.name, value))
            for b, g in zip(base.itertuples(), got.itertuples()):
                rows.append({"claim": b.claim, "model": b.model, "technology": b.technology, "knob": knob.name,
                             "value": str(value), "saving": float(g.saving), "strongest": g.strongest,
                             "region_win_share": float(g.region_win_share), "base_saving": float(b.saving),
                             "base_strongest": b.strongest, "base_region_win_share": float(b.region_win_share)})
    return pd.DataFrame(rows)


def survives(study: pd.DataFrame) -> pd.DataFrame:
    """Per contest: does the sign of the saving (hetero wins: > 1) survive every single change?
    Names the changes that flip it."""
    out = []
    for (claim, model, tech), g in study.groupby(["claim", "model", "technology"], sort=False):
        base_wins = bool(g.base_saving.iloc[0] > 1)
        flips = g[(g.saving > 1) != base_wins]
        out.append({"claim": claim, "model": model, "technology": tech, "base_saving": float(g.base_saving.iloc[0]),
                    "base_strongest": g.base_strongest.iloc[0], "hetero_wins_at_base": base_wins,
                    "sign_survives": flips.empty, "min_saving": float(g.saving.min()),
                    "max_saving": float(g.saving.max()),
                    "flips": [f"{r.knob}={r.value}" for r in flips.itertuples()],
                    "base_region_win_share": float(g.base_region_win_share.iloc[0]),
                    "min_region_win_share": float(g.region_win_share.min()),
                    "max_region_win_share": float(g.region_win_share.max())})
    return pd.DataFrame(out)
