"""Stage edge_energy: energy, latency and area of every design over the sweep grid.

The results table (EnergyResults) holds, per design variant and sweep point (model,
adapter size, task count, inference rate, switch rate, sparsity), the energy per inference
and its parts; the metrics keep the reference-point breakdown, the savings of the
heterogeneous design against the two original baselines, all_envm's wear-out lifetime and
the agreement of the coarse second model (edge/coarse.py) over the whole sweep.

Over the energy claims' pre-registered region (read from the claims file, so the verdicts
and these tables share it): per competitor, the share of the region the heterogeneous
design wins and the crossover inference rate (region.json), the winner map (PNG + CSV),
and the one-at-a-time sensitivity of its saving against the strongest competitor
(sensitivity.json, tornado PNG + CSV)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro import io
from lmrepro.config import from_dict
from lmrepro.edge import coarse
from lmrepro.edge import energy as E
from lmrepro.edge import figures
from lmrepro.edge import region as R
from lmrepro.edge import region_figures
from lmrepro.edge import sensitivity as S
from lmrepro.edge.schemas import EnergyResults, TechTable, Workload
from lmrepro.errors import LmreproError
from lmrepro.stage import Stage

stage = Stage(track="edge", name="edge_energy")
stage.add_argument("--tech", type=Path, required=True)
stage.add_argument("--workloads", type=Path, nargs="+", required=True)
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)
stage.add_argument("--fig-tasks", type=Path, required=True)
stage.add_argument("--fig-rate", type=Path, required=True)
stage.add_argument("--claims", type=Path, required=True, help="the energy claims file: region and competitors")
stage.add_argument("--region", type=Path, required=True, help="JSON: win shares and crossover rates per competitor")
stage.add_argument("--winner-map", type=Path, required=True, help="PNG: cheapest design per rate x task count")
stage.add_argument("--winner-map-data", type=Path, required=True, help="CSV behind the winner map")
stage.add_argument("--sensitivity", type=Path, required=True, help="JSON: inputs, their sources, one-at-a-time study")
stage.add_argument("--tornado", type=Path, required=True, help="PNG: saving vs the strongest competitor per change")
stage.add_argument("--tornado-data", type=Path, required=True, help="CSV behind the tornado figure")

PART_COLS = ["read_uj", "mac_uj", "leak_uj", "reload_uj", "standby_uj", "total_uj", "latency_ms", "duty_cycle",
             "area_mm2", "sram_bytes", "envm_bytes", "offchip_bytes"]


def reference_rows(results: pd.DataFrame, ref: dict, sparsity: float = 0.0, any_switch: bool = False) -> pd.DataFrame:
    """The breakdown point: reference tasks/rate/switch (every switch rate with any_switch);
    ALBERT at the reference bottleneck, every other model at its own (single) bottleneck."""
    sel = results[(results.n_tasks == ref["n_tasks"]) & (results.rate_hz == ref["rate_hz"])
                  & (any_switch | (results.switch_rate == ref["switch_rate"])) & (results.sparsity == sparsity)]
    keep = (sel.model != "albert-base-v2") | (sel.bottleneck == ref["bottleneck"])
    return sel[keep]


@stage.main
def main(ctx) -> None:
    section = dict(ctx.section("edge.energy"))
    sweep_s, ref = section.pop("sweep"), section.pop("reference")
    map_rates, coarse_rtol = int(section.pop("map_rates")), float(section.pop("coarse_rtol"))
    sources, sens = section.pop("sources"), section.pop("sensitivity")
    cfg = from_dict(E.EnergyConfig, section, where="edge.energy")
    # checked before any simulation: sources of every constant, sensitivity ranges, the claims file
    knobs = S.parse_knobs(sens, cfg)
    inputs = S.input_table(cfg, sources, knobs)
    region, contests = R.load_contests(ctx.args.claims)
    sparsities = (0.0, *ctx.section("edge.prune.sparsities"))
    for key in ("n_tasks", "rate_hz", "switch_rate"):
        if ref[key] not in sweep_s[key]:
            raise LmreproError(f"edge.energy.reference.{key}={ref[key]} is not in edge.energy.sweep.{key}")
    sweep = E.SweepConfig(tuple(sweep_s["n_tasks"]), tuple(sweep_s["rate_hz"]), tuple(sweep_s["switch_rate"]),
                          sparsities)
    table = io.read_table(ctx.args.tech, TechTable)
    workload = pd.concat([io.read_table(p, Workload) for p in ctx.args.workloads], ignore_index=True)
    albert = workload[workload.model == "albert-base-v2"]
    if len(albert) and ref["bottleneck"] not in set(albert.bottleneck):
        raise LmreproError(f"edge.energy.reference.bottleneck={ref['bottleneck']} is not in edge.workload.bottlenecks")
    grids = [
        E.make_grid([m], sorted(wl.bottleneck.unique()), E.DESIGNS, cfg.envm, sweep, sram=cfg.sram,
                    refill_from=cfg.gated_refill_from, adapter_store=cfg.adapter_store)
        for m, wl in workload.groupby("model")
    ]
    grid = pd.concat(grids, ignore_index=True)
    results = E.simulate(grid, workload, table, cfg)
    results = io.write_table(results, ctx.args.out, EnergyResults)
    ctx.log.info("%d scenarios", len(results))

    point = reference_rows(results, ref)
    breakdown = {m: {r.design_label: {c: float(getattr(r, c)) for c in PART_COLS} for r in g.itertuples()}
                 for m, g in point.groupby("model")}
    sav = E.savings(point)
    savings = {m: {f"{r.backbone_tech}_vs_{r.baseline}": {"energy": float(r.energy_saving), "area": float(r.area_saving)}
                   for r in g.itertuples()} for m, g in sav.groupby("model")}
    pruned = {}
    for s in sparsities:
        p = reference_rows(results, ref, s)
        for r in p.itertuples():
            pruned.setdefault(r.model, {}).setdefault(str(s), {})[r.design_label] = {
                "total_uj": float(r.total_uj), "area_mm2": float(r.area_mm2),
                "backbone_bytes": float(r.envm_bytes if r.design == "hetero" else r.sram_bytes)}
    # savings over the whole sweep (dense backbone): where does the heterogeneous design win?
    full = E.savings(results[results.sparsity == 0.0])
    span = {m: {f"{t}_vs_{b}": {"min": float(g2.energy_saving.min()), "max": float(g2.energy_saving.max()),
                                 "share_above_1": float((g2.energy_saving > 1).mean())}
                for (t, b), g2 in g.groupby(["backbone_tech", "baseline"])} for m, g in full.groupby("model")}
    feasible = float(results.feasible.mean())
    # all_envm wear-out at the reference point, per switch rate (None: never written)
    wear = reference_rows(results[results.design == "all_envm"], {**ref, "switch_rate": None}, 0.0, any_switch=True)
    lifetime = {m: {str(lab): {f"{r.switch_rate:g}": (float(r.lifetime_years) if np.isfinite(r.lifetime_years) else None)
                               for r in g2.itertuples()} for lab, g2 in g.groupby("design_label", observed=True)}
                for m, g in wear.groupby("model")}
    # the second, coarser model over every scenario of the sweep
    check = coarse.agreement(results, workload, table, cfg)
    check.update(rtol=coarse_rtol, agrees=bool(check["max_rel_gap"] <= coarse_rtol))
    ctx.log.info("coarse model: largest relative gap %.2g (tolerance %.2g)", check["max_rel_gap"], coarse_rtol)
    io.write_json({"reference": ref, "breakdown": breakdown, "savings": savings, "pruned": pruned,
                   "savings_over_sweep": span, "feasible_share": feasible, "scenarios": len(results),
                   "envm_lifetime_years": lifetime, "coarse_check": check},
                  ctx.args.metrics)
    ctx.log_metrics({f"{m}.{k}.energy_saving": v["energy"] for m, d in savings.items() for k, v in d.items()})

    fixed_tasks = {m: {"rate_hz": ref["rate_hz"], "switch_rate": ref["switch_rate"], "sparsity": 0.0,
                       **({"bottleneck": ref["bottleneck"]} if m == "albert-base-v2" else {})}
                   for m in results.model.unique()}
    figures.energy_lines(results, "n_tasks", fixed_tasks, ctx.args.fig_tasks, "number of tasks N",
                         f"{ref['rate_hz']} inf/s, {ref['switch_rate']} switches/inf")
    fixed_rate = {m: {**{k: v for k, v in f.items() if k != "rate_hz"}, "n_tasks": ref["n_tasks"]}
                  for m, f in fixed_tasks.items()}
    figures.energy_lines(results, "rate_hz", fixed_rate, ctx.args.fig_rate,
                         "inference rate (1/s); duty cycle = rate x latency",
                         f"N={ref['n_tasks']}, {ref['switch_rate']} switches/inf")

    region_analysis(ctx, grid, results, workload, table, cfg, sweep, ref, map_rates, knobs, inputs, region, contests)


def _repo_relative(path: Path, root: Path) -> str:
    """The claims file as the report names it: relative to the repository (profiles pass it absolute)."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def reference_necks(workload: pd.DataFrame, ref: dict) -> dict:
    """The adapter size of each model's reference point: the reference one where the model
    was swept over it (ALBERT), else the model's only one."""
    necks = {}
    for model, wl in workload.groupby("model"):
        own = sorted(wl.bottleneck.unique())
        if ref["bottleneck"] in own:
            necks[model] = int(ref["bottleneck"])
        elif len(own) == 1:
            necks[model] = int(own[0])
        else:
            raise LmreproError(f"edge.energy.reference.bottleneck={ref['bottleneck']} is not among {model}'s {own}")
    return necks


def region_analysis(ctx, grid, results, workload, table, cfg, sweep, ref, map_rates, knobs, inputs, region,
                    contests) -> None:
    """Win shares, crossovers, winner map and sensitivity over the claims' region."""
    models = set(results.model)
    skipped = sorted({c.model for c in contests} - models)
    if skipped:
        ctx.log.warning("energy claims about models without a workload here are left out: %s", skipped)
    contests = [c for c in contests if c.model in models]
    if not contests:
        raise LmreproError(f"{ctx.args.claims}: no energy claim is about a model of this run ({sorted(models)})")
    necks = reference_necks(workload, ref)
    shares = R.win_shares(results, contests, region)
    dense = grid[np.isclose(grid.sparsity, region.sparsity)]
    terms = R.period_terms(dense, workload, table, cfg)
    gap = R.check_linear(results[np.isclose(results.sparsity, region.sparsity)], terms)
    crosses = R.crossovers(terms, contests, region, ref, necks)
    rates = np.geomspace(min(sweep.rate_hz), max(sweep.rate_hz), map_rates)
    wmap = R.winner_map(E.simulate(R.map_grid(necks, sweep.n_tasks, rates, ref, cfg, region.sparsity),
                                   workload, table, cfg), contests, region)
    io.write_json({"region": dataclasses.asdict(region), "reference": {**ref, "bottleneck_per_model": necks},
                   "win_shares": shares, "crossovers": crosses, "linear_gap": gap,
                   "claims_file": _repo_relative(ctx.args.claims, ctx.root),
                   "map": {"rates": map_rates, "rate_min": float(rates[0]), "rate_max": float(rates[-1])}},
                  ctx.args.region)
    R.write_csv(wmap, ctx.args.winner_map_data, R.WinnerMapTable)
    region_figures.winner_map(wmap, dataclasses.asdict(region), ctx.args.winner_map,
                              "cheapest design that can serve; " + ", ".join(f"{m}: m={n}" for m, n in necks.items())
                              + f"; {ref['switch_rate']} switches/inf; lifetime >= {region.min_lifetime_years:g} years")

    neck = grid.model.astype(str).map(necks)
    at_ref = grid[(grid.bottleneck == neck) & (grid.n_tasks == ref["n_tasks"]) & np.isclose(grid.rate_hz, ref["rate_hz"])
                  & np.isclose(grid.switch_rate, ref["switch_rate"]) & np.isclose(grid.sparsity, region.sparsity)]
    inside = grid[region.contains(grid)]
    study = S.one_at_a_time(at_ref, inside, workload, table, cfg, knobs, contests, region)
    verdicts = S.survives(study)
    R.write_csv(study, ctx.args.tornado_data, S.TornadoTable)
    io.write_json({"inputs": inputs, "study": study.to_dict("records"),
                   "survives": verdicts.to_dict("records"), "reference": ref}, ctx.args.sensitivity)
    region_figures.tornado(study, ctx.args.tornado, f"N={ref['n_tasks']}, {ref['rate_hz']} inf/s, "
                                                     f"{ref['switch_rate']} switches/inf: one constant at a time")
    ctx.log_metrics({f"{r.model}.{r.technology}.sensitivity_min_saving": r.min_saving for r in verdicts.itertuples()})


if __name__ == "__main__":
    stage.run()
