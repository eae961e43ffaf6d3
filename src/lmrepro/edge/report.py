"""The edge section of reports/results.md, rendered from the edge stages' metrics files."""

from __future__ import annotations

import json
from pathlib import Path

# papers.md section 4 (ReadEDP target): read pJ/access, leakage mW, area mm^2
PAPER_TECH = {"SRAM": (1.13, 56.3, 1.31), "RRAM": (6.18, 12.0, 0.53), "STT": (4.37, 22.0, 0.22)}
# papers.md section 4: ALBERT-base-v2 parameter parts (millions)
PAPER_PARTS = {"embedding": 3.91, "projection": 0.10, "layers": 7.09, "pooler": 0.59}
PAPER_TOTAL_M, PAPER_GMAC = 11.68, 11.2
MLC = {"2 b/cell": (1.5e-8, 1.5e-8), "3 b/cell": (1.5e-4, 6.3e-3)}


def _load(root: Path, name: str) -> dict | None:
    f = root / "reports" / "metrics" / "edge" / f"{name}.json"
    return json.loads(f.read_text()) if f.is_file() else None


def _load_report(root: Path, name: str) -> dict | None:
    """A JSON the energy stage writes next to its figures (reports/edge/)."""
    f = root / "reports" / "edge" / f"{name}.json"
    return json.loads(f.read_text()) if f.is_file() else None


def _hz(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _spans(spans: list) -> str:
    """Rate intervals [lo, hi] (hi None: unbounded) -> 'a-b', 'above a', 'below b'."""
    if not spans:
        return "none"
    out = []
    for lo, hi in spans:
        if lo <= 0 and hi is None:
            out.append("every rate")
        elif lo <= 0:
            out.append(f"up to {_hz(hi)}")
        elif hi is None:
            out.append(f"above {_hz(lo)}")
        else:
            out.append(f"{_hz(lo)}-{_hz(hi)}")
    return ", ".join(out)


def _value(v) -> str:
    """A constant as params.yaml would spell it (numbers with :g, booleans lower case)."""
    if isinstance(v, bool):
        return str(v).lower()
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def _region_text(reg: dict) -> str:
    r = reg["region"]
    ref = reg["reference"]
    necks = ", ".join(f"{m}: m={n}" for m, n in ref["bottleneck_per_model"].items())
    return (
        "The region the paper targets (its setting: edge duty cycles; pre-registered in "
        f"`{reg['claims_file']}` before any result): an inference rate of at most {r['rate_hz_max']:g} per second, at least "
        f"{r['n_tasks_min']} tasks, every adapter size and task-switch rate of the sweep, backbone sparsity "
        f"{r['sparsity']:g}. A design serves a scenario only if it is feasible there and its eNVM lasts at least "
        f"{r['min_lifetime_years']:g} years at that switch rate; otherwise it loses the scenario. Crossover rates are "
        f"exact (energy is A + B / rate at a fixed point while feasible; largest gap to the sweep "
        f"{reg['linear_gap']:.1e}) and quoted at the reference point: N={ref['n_tasks']}, {ref['switch_rate']:g} "
        f"switches per inference, adapter size {necks}."
    )


def _crossovers(reg: dict) -> list[str]:
    shares = {(w["hetero"], w["model"], w["competitor"]): w for w in reg["win_shares"]}
    out = [
        _region_text(reg),
        "",
        "| model | heterogeneous design | competitor | share of the region hetero wins | crossover rate (per s) "
        "| hetero cheaper (energy alone) | rates hetero wins at (per s) | competitor serves up to (per s) "
        "| crossover over the region (per s) |",
        "|---|---|---|---:|---:|---|---|---:|---|",
    ]
    for c in reg["crossovers"]:
        w = shares[(c["hetero"], c["model"], c["competitor"])]
        lo, hi = c["region_crossover_min_hz"], c["region_crossover_max_hz"]
        across = "none" if lo is None else (_hz(lo) if lo == hi else f"{_hz(lo)}-{_hz(hi)}")
        out.append(
            f"| {c['model']} | {c['hetero']} | {c['competitor']} | {100 * w['win_share']:.1f}% of {w['scenarios']} | "
            f"{_hz(c['crossover_hz'])} | {c['hetero_wins']} | {_spans(c['wins_at_hz'])} | "
            f"{_hz(c['competitor_max_rate_hz'])} | {across} ({', '.join(c['region_sides'])}) |")
    out.append("")
    every = [w for w in reg["win_shares"] if w["competitor"] == "every competitor"]
    if every:
        out.append("Share of the region in which the heterogeneous design beats every competitor at once: "
                   + "; ".join(f"{w['hetero']} ({w['model']}) {100 * w['win_share']:.1f}%" for w in every) + ".")
        out.append("")
    out += ["Winner map (cheapest design that can serve, at the reference switch rate and adapter size; dashed: the "
            "region; data in `reports/edge/winner_map.csv`):", "", "![winner map](edge/winner_map.png)", ""]
    return out


def _sensitivity(sens: dict) -> list[str]:
    out = [
        "Inputs of the energy model and where each value comes from (params.yaml edge.energy.sources; "
        "'assumption' marks an engineering judgement, not a citation; 'partly': a citation with an assumption on "
        "top):",
        "",
        "| constant | value | source | assumption? | one-at-a-time values | source of the range |",
        "|---|---|---|---|---|---|",
    ]
    for r in sens["inputs"]:
        rng = "not varied" if r["range"] is None else ", ".join(_value(v) for v in r["range"])
        out.append(f"| {r['constant']} | {_value(r['value'])} | {r['source']} | {r['assumption']} | "
                   f"{rng} | {r['range_source'] or '-'} |")
    ref = sens["reference"]
    out += [
        "",
        f"Sensitivity at the reference point (N={ref['n_tasks']}, an inference rate of {ref['rate_hz']:g} per second, "
        f"{ref['switch_rate']:g} switches per inference): the saving is the energy of the strongest competitor that "
        "can serve the point divided by the heterogeneous design's (above one: hetero wins), re-chosen under each "
        "change; each constant moves alone. Data in `reports/edge/tornado.csv`.",
        "",
        "| model | heterogeneous design | saving | strongest competitor | lowest / highest saving over the changes "
        "| sign of the saving | changes that flip it | region share beating every competitor: params / lowest / highest |",
        "|---|---|---:|---|---:|---|---|---|",
    ]
    for v in sens["survives"]:
        side = "hetero wins" if v["hetero_wins_at_base"] else "hetero loses"
        share = ""
        if "base_region_win_share" in v:
            share = (f"{100 * v['base_region_win_share']:.1f}% / {100 * v['min_region_win_share']:.1f}% / "
                     f"{100 * v['max_region_win_share']:.1f}%")
        out.append(f"| {v['model']} | hetero-{v['technology']} | {v['base_saving']:.3g}x | {v['base_strongest']} | "
                   f"{v['min_saving']:.3g}x / {v['max_saving']:.3g}x | {side}; "
                   f"{'survives every change' if v['sign_survives'] else 'flips'} | {', '.join(v['flips']) or '-'} | "
                   f"{share or '-'} |")
    n_flip = sum(not v["sign_survives"] for v in sens["survives"])
    out += [
        "",
        (f"The sign of the saving survives every one-at-a-time change for all {len(sens['survives'])} heterogeneous "
         "designs." if n_flip == 0 else
         f"The sign of the saving flips under at least one single change for {n_flip} of "
         f"{len(sens['survives'])} heterogeneous designs (listed above)."),
        "",
        "![tornado: saving vs the strongest competitor](edge/tornado.png)",
        "",
    ]
    return out


def _coarse(e: dict) -> list[str]:
    c = e.get("coarse_check")
    if not c:
        return []
    w = c["worst"]
    verdict = "agrees with" if c["agrees"] else "DISAGREES with"
    return [
        f"Independent check: a coarser second model (bits read and moved x pJ/bit, bytes held x leakage per byte x "
        f"powered time, from each scenario's totals; `src/lmrepro/edge/coarse.py`) {verdict} the simulator over all "
        f"{c['scenarios']} scenarios: largest relative gap {c['max_rel_gap']:.1e} (tolerance {c['rtol']:g}; "
        f"at {w['design_label']}, {w['model']}, N={w['n_tasks']}, {w['rate_hz']:g} inferences per second), "
        f"mean {c['mean_rel_gap']:.1e}. The gap is the off-chip stores' wake-up energy, which the coarse model "
        "leaves out.",
        "",
    ]


def _mb(x: float) -> str:
    return f"{x / 2**20:.2f}"


def _tech(m: dict) -> list[str]:
    rows = []
    for t, (rd, lk, ar) in PAPER_TECH.items():
        key = f"{t}.ReadEDP.best."
        if key + "read_energy_pj" not in m:
            continue
        got = (m[key + "read_energy_pj"], m[key + "leakage_mw"], m[key + "area_mm2"])
        ok = round(got[0], 2) == rd and round(got[1], 1) == lk and round(got[2], 2) == ar
        rows.append(f"| {t} | {got[0]:.3f} | {got[1]:.2f} | {got[2]:.3f} | {rd} / {lk} / {ar} | "
                    f"{'match' if ok else 'MISMATCH'} |")
    return [
        f"Technology table: {m['valid_arrays']} valid NVSim arrays (22 nm, 2 MB, 64-bit words); "
        f"{m['failed_arrays']} characterizations that NVSim could not build (all FeFET, worst-case RRAM) are "
        "listed in `data/edge/tech_failed.parquet` and never used. Totals are derived from per-access values "
        "(the CSVs' total columns carry the known 1000x unit error, which the parser checks).",
        "",
        "| technology (ReadEDP, best cell) | read pJ/access | leakage mW | area mm^2 | papers.md | check |",
        "|---|---:|---:|---:|---|---|",
        *rows,
        "",
    ]


def _workload(m: dict, ref_bottleneck: int | None) -> list[str]:
    by = m["by_bottleneck"]
    part = by.get(str(ref_bottleneck)) or next(iter(by.values()))
    rows = [f"| {r} | {part[f'params.{r}'] / 1e6:.2f} | {v} |" for r, v in PAPER_PARTS.items()]
    total = part["backbone_params"] / 1e6
    gmac = (part["macs"]) / 1e9
    return [
        "ALBERT-base-v2 workload, from its config (no weights):",
        "",
        "| part | ours (M params) | papers.md |",
        "|---|---:|---:|",
        *rows,
        f"| backbone total | {total:.2f} | {PAPER_TOTAL_M} |",
        "",
        f"MACs per inference at sequence length {m['seq_len']}, with two Houlsby adapters (m={ref_bottleneck}) applied "
        f"in each of the {m['num_hidden_layers']} layer passes: {gmac:.2f} G (papers.md: ~{PAPER_GMAC} G for the "
        f"backbone alone). Adapters per task at m={ref_bottleneck}: {part['params.adapters'] / 1e3:.1f}k params "
        f"(two per layer, each 2 x hidden x m weights + hidden + m biases, hidden = {m['hidden_size']}), "
        f"{100 * part['params.adapters'] / part['backbone_params']:.2f}% of the backbone.",
        "",
    ]


def _breakdown(e: dict) -> list[str]:
    ref = e["reference"]
    out = [
        f"Energy per inference at the reference point: N={ref['n_tasks']} tasks, {ref['rate_hz']} inferences/s, "
        f"{ref['switch_rate']} task switches per inference, 8-bit weights (uJ; area of the weight memories only).",
        "",
    ]
    for model, designs in e["breakdown"].items():
        out += [
            f"**{model}**",
            "",
            "| design | weight reads | MACs | leakage | reloads | off-chip standby | total | latency ms | duty cycle "
            "| area mm^2 | SRAM MiB | eNVM MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, r in designs.items():
            out.append(
                f"| {label} | {r['read_uj']:.1f} | {r['mac_uj']:.1f} | {r['leak_uj']:.1f} | {r['reload_uj']:.1f} | "
                f"{r.get('standby_uj', 0.0):.1f} | {r['total_uj']:.1f} | {r['latency_ms']:.2f} | {r['duty_cycle']:.4f} | {r['area_mm2']:.2f} | "
                f"{_mb(r['sram_bytes'])} | {_mb(r['envm_bytes'])} |"
            )
        out.append("")
        sav = e["savings"].get(model, {})
        if sav:
            out += ["| eNVM backbone | energy saving vs all-SRAM | vs DRAM reload | area saving vs all-SRAM | vs DRAM reload |",
                    "|---|---:|---:|---:|---:|"]
            for t in sorted({k.split("_vs_")[0] for k in sav}):
                a, d = sav.get(f"{t}_vs_all_sram", {}), sav.get(f"{t}_vs_dram_reload", {})
                out.append(f"| {t} | {a.get('energy', float('nan')):.2f}x | {d.get('energy', float('nan')):.2f}x | "
                           f"{a.get('area', float('nan')):.2f}x | {d.get('area', float('nan')):.2f}x |")
            out.append("")
    return out


def _pruning(e: dict) -> list[str]:
    out = []
    for model, by_s in e.get("pruned", {}).items():
        keys = sorted(by_s, key=float)
        if len(keys) < 2:
            continue
        labels = [lab for lab in by_s[keys[0]] if lab.startswith("hetero")]
        out += [f"Pruned backbone (bitmask + int8 survivors), {model}, reference point:", "",
                "| sparsity | " + " | ".join(f"{lab} total uJ" for lab in labels) + " | backbone MiB |",
                "|---:|" + "---:|" * (len(labels) + 1)]
        for s in keys:
            d = by_s[s]
            out.append(f"| {float(s):.1f} | " + " | ".join(f"{d[lab]['total_uj']:.1f}" for lab in labels)
                       + f" | {_mb(d[labels[0]]['backbone_bytes'])} |")
        out.append("")
    return out


def _robust(r: dict) -> tuple[list[str], dict]:
    acc = r["macro_accuracy"]

    def get(cond, s=0.0, ber=0.0):
        return acc.get(f"{cond}|s={s:g}|ber={ber:g}")

    out = [
        f"Robustness of our trained model (the ALTER track's MTA bundle) on {len(r['tasks'])} NLU tasks "
        f"(up to {r['rows_per_task']} test rows per task; accuracy for every task, also CoLA and MSRP), "
        "macro average, mean +- std over bit-error seeds:",
        "",
        "| condition | sparsity | bit-error rate | macro accuracy |",
        "|---|---:|---:|---:|",
    ]
    order = {"fp32": 0, "int8": 1, "int8_pruned": 2, "int8_bit_errors": 3}

    def sort_key(key):
        cond, s, ber = key.split("|")
        return order.get(cond, 9), float(s[2:]), float(ber[4:])

    for key in sorted(acc, key=sort_key):
        v = acc[key]
        cond, s, ber = key.split("|")
        out.append(f"| {cond} | {s[2:]} | {ber[4:]} | {v['mean']:.4f} +- {v['std']:.4f} (n={v['n_seeds']}) |")
    out.append("")
    return out, {"fp32": get("fp32"), "int8": get("int8"), "get": get}


def render(root: Path) -> str:
    tech, energy = _load(root, "tech"), _load(root, "energy")
    albert, rob = _load(root, "workload-albert-base-v2"), _load(root, "robustness")
    if not any((tech, energy, albert, rob)):
        return ""
    lines = [
        "## Edge: adapter-ALBERT on heterogeneous memory (papers.md section 4)",
        "",
        "Scale: the energy study runs at paper scale (ALBERT-base-v2 from its config, NVMExplorer's NVSim arrays); "
        "'ours' is the backbone-plus-adapters model trained by the ALTER track (all-MiniLM-L6-v2 + MTA), not "
        "adapter-ALBERT. Interpretations: an analytic NVMExplorer-style model (no EdgeBERT RTL), weight-stationary "
        "reads (each weight read once per layer pass), activation buffer and PE array left out (common to all "
        "designs), SRAM leaks for the whole period, the eNVM backbone is power-gated between inferences, the "
        "DRAM-reload baseline holds one plainly fine-tuned model per task and reloads it on each task switch "
        "(DRAM standby power not charged: favours that baseline; dram_reload_sr charges the DRAM's self-refresh "
        "power), 8-bit MAC energy from Horowitz (45 nm). Further designs: gated_sram (a power-gated SRAM refilled "
        "from DRAM or flash on every wake-up) and all_envm (adapters in the eNVM too, rewritten on each task switch "
        "from flash; eNVM write energy/latency from the same NVSim tables; wear-out lifetime in "
        "reports/metrics/edge/energy.json). Off-chip store numbers and their sources: params.yaml edge.energy.",
        "",
    ]
    if tech:
        lines += _tech(tech)
    ref_b = energy["reference"]["bottleneck"] if energy else None
    if albert:
        lines += _workload(albert, ref_b)
    ours = _load(root, "workload-ours")
    if ours:
        (m, part), = list(ours["by_bottleneck"].items())[:1]
        lines += [
            f"Our trained model's workload (from the bundle): backbone {part['backbone_params'] / 1e6:.2f}M params "
            f"(embeddings {part['params.embedding'] / 1e6:.2f}M), mixture adapters and gates "
            f"{part['params.adapters'] / 1e3:.1f}k (bottleneck {m}; stored once and all read every inference, as the "
            f"gate mixes all adapters densely, so N only scales its per-task heads), "
            f"{part['macs'] / 1e9:.2f} GMAC at the same sequence length.",
            "",
        ]
    facts = []
    if energy:
        lines += _breakdown(energy)
        lines += _pruning(energy)
        lines += ["![energy vs tasks](edge/energy_vs_tasks.png) ![energy vs rate](edge/energy_vs_rate.png)", ""]
        lines += _coarse(energy)
        reg, sens = _load_report(root, "region"), _load_report(root, "sensitivity")
        if reg:
            lines += _crossovers(reg)
        if sens:
            lines += _sensitivity(sens)
        for model, sav in energy["savings"].items():
            es = {k: v["energy"] for k, v in sav.items()}
            ar = {k: v["area"] for k, v in sav.items()}
            best = max(es, key=es.get)
            facts.append(
                f"- Energy ({model}), reference point, heterogeneous design vs the all-SRAM and DRAM-reload baselines: "
                f"{min(es.values()):.2f}x-{max(es.values()):.2f}x (best {best}: {es[best]:.2f}x). The verdict is taken "
                "over the whole operating region and against every design, including power-gated SRAM and all-eNVM "
                "(Verdicts section)."
            )
            facts.append(
                f"- Area ({model}): {min(ar.values()):.2f}x-{max(ar.values()):.2f}x smaller weight memory. Not a claim: "
                "it restates the NVSim inputs (eNVM area per bit is below SRAM's, and area scales with capacity)."
            )
            d = energy["breakdown"][model].get("all_sram")
            if d:
                leak = d["leak_uj"] / d["total_uj"]
                facts.append(
                    f"- Leakage share ({model}, all-SRAM, reference rate): {100 * leak:.1f}% of the energy per inference. "
                    "Not a claim: an always-on SRAM leaks for the whole period by assumption."
                )
    if rob:
        rl, acc = _robust(rob)
        lines += rl + ["![accuracy vs bit-error rate](edge/accuracy_vs_ber.png)", ""]
        fp, q = acc["fp32"], acc["int8"]
        if fp and q:
            facts.append(f"- 8-bit backbone: macro score {fp['mean']:.4f} -> {q['mean']:.4f} "
                         f"({100 * (q['mean'] - fp['mean']):+.2f} points).")
        for name, (lo, hi) in MLC.items():
            pts = [(k, v) for k, v in rob["macro_accuracy"].items()
                   if k.startswith("int8_bit_errors") and lo <= float(k.split("ber=")[1]) <= hi]
            if pts and q:
                worst = min(v["mean"] for _, v in pts)
                facts.append(f"- MLC RRAM {name} bit errors ({lo:g}-{hi:g}): worst macro score {worst:.4f}, "
                             f"{100 * (worst - q['mean']):+.2f} points vs error-free int8.")
        facts.append("- Robustness verdicts: paired tests on the same test rows (non-inferiority within the margin "
                     "fixed in workflow/claims/edge_robustness.yaml), in the Verdicts section.")
    if facts:
        lines += ["Behind the claims:", "", *facts, ""]
    return "\n".join(lines)
