"""The MTA section of reports/results.md: method x task table, cost columns, figure,
and the costs behind the paper's claims. The verdicts come from paired tests on the
per-example predictions (workflow/claims/alter.yaml, lmrepro.report.claims), not from
this module.

Inputs (under ``root``):
  reports/metrics/mta/scores.json   deterministic scores (summary per method) + the scale (mta_eval)
  reports/mta/runs.json             trainable/total parameters and steps per method (mta_eval)
  reports/mta/gates.json            gate weights at the start and end of stage 2, mean over seeds (mta_eval)
  reports/mta/timing/<stage>.json   wall times of the training stages (each training stage)

No result carries wall times: neither reports/mta/table.md (from mta_eval) nor this
section of results.md has a Time column, so both are identical between two runs of the
same commit, params and threads. render_timing formats the timing files for
reports/timing.md (lmrepro.report.timing).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.mta import gates, placement
from lmrepro.mta.methods import BASELINES, LABELS, METHODS
from lmrepro.mta.metrics import headline_name

SCORES = Path("reports/metrics/mta/scores.json")
RUNS = Path("reports/mta/runs.json")
FIGURE = Path("reports/mta/tasks.png")
TABLE = Path("reports/mta/table.md")
GATES = Path("reports/mta/gates.json")
GATES_FIGURE = Path("reports/mta/gates.png")
CURVE_FIGURE = Path("reports/mta/curve.png")  # mta_curve: the cheap methods' learning curve
CURVE_SCORES = Path("data/mta/curve.parquet")  # mta_curve: its scores per (method, size, seed, task)
TIMING_DIR = Path("reports/mta/timing")
CHANGE_KEY = "stage2_change"  # scores.json: per stage-2 run, its paired per-task change over the stage-1 adapters
STAGE2_KEY = "mta.stage2"
# table order: the compared methods, the stage-2 ablation right after MTA (it is not a baseline)
ORDER = ("adapters", "mta", gates.NEUTRAL, *BASELINES)
NAMES = {**LABELS, **{m: r.label for m, r in gates.RUNS.items() if m not in LABELS}}


def timing_files(methods: list[str]) -> list[Path]:
    """The timing files (relative to the repo root) behind the Time column of ``methods``."""
    stages = ["mta_stage1"] if {"adapters", "fusion", *gates.RUNS} & set(methods) else []
    stages += [r.timing_stage for m, r in gates.RUNS.items() if m in methods]
    stages += [f"mta_baseline-{m}" for m in methods if m != "adapters" and m not in gates.RUNS]
    return [TIMING_DIR / f"{s}.json" for s in stages]


Timings = dict  # {(training stage name, seed): seconds}, see read_timings


def read_timings(paths: list[Path]) -> dict[tuple[str, int], float]:
    """{(training stage name, seed): seconds} from timing files (written by pipeline.Timing)."""
    out: dict[tuple[str, int], float] = {}
    for path in paths:
        if not path.is_file():
            raise LmreproError(f"{path}: timing file missing; run the stage that writes it")
        try:
            for run in io.read_json(path)["runs"]:
                out[(run["name"], int(run["seed"]))] = float(run["seconds"])
        except (KeyError, TypeError, ValueError) as err:
            raise LmreproError(f"{path}: not an MTA timing file (need runs[].name/seed/seconds): {err}") from err
    return out


def _pct(v: dict) -> str:
    return f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}"


def _params(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def _secs(s: float) -> str:
    return f"{s:.0f}" if s >= 10 else f"{s:.1f}"


def cost(runs: dict, method: str, timings: Timings | None = None) -> dict:
    """Trainable parameters, inference parameters and (with ``timings``) seconds, mean over
    seeds, of a method, counting the stage-1 adapters for the methods built on them (mta, fusion)."""
    per_seed = runs[method]
    stages = per_seed[0]["stages"]

    def seconds(name: str) -> float | None:
        if timings is None:
            return None
        try:
            return sum(timings[(name, int(r["seed"]))] for r in per_seed) / len(per_seed)
        except KeyError as err:
            raise LmreproError(f"no wall time for training stage {name!r} seed {err} of method {method!r} "
                               f"in {TIMING_DIR}") from err

    per_stage = {s["name"]: {"trainable": s["trainable"], "seconds": seconds(s["name"])} for s in stages}
    return {
        "trainable": sum(s["trainable"] for s in stages),
        "total": per_seed[0]["total"],
        "seconds": None if timings is None else sum(v["seconds"] for v in per_stage.values()),
        "stages": per_stage,
    }


def table(summary: dict, runs: dict, tasks: list[str], timings: Timings | None = None) -> str:
    """Method x task scores and costs; a Time column only when ``timings`` are given."""
    methods = [m for m in ORDER if m in summary]
    head = ["Method", *[f"{t} ({headline_name(t)})" for t in tasks], "Macro avg", "Trainable", "Total"]
    head += ["Time (s)"] if timings is not None else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        c = cost(runs, m, timings)
        cells = [NAMES[m], *[_pct(summary[m][t]) for t in tasks], f"**{_pct(summary[m]['macro'])}**",
                 _params(c["trainable"]), _params(c["total"])]
        cells += [_secs(c["seconds"])] if timings is not None else []
        lines.append("| " + " | ".join(cells) + " |")
    if "msrp" in tasks:
        parts = ", ".join(f"{NAMES[m]} F1 {_pct(summary[m]['msrp_f1'])} / acc {_pct(summary[m]['msrp_acc'])}"
                          for m in methods)
        lines.append("")
        lines.append(f"MSRP parts: {parts}.")
    return "\n".join(lines)


def _lr(lr: float) -> str:
    return f"{lr:g}"


def selection_table(summary: dict, runs: dict) -> str:
    """What validation chose for each method (selection.py): the learning rate per unit
    (a task, or all tasks) on the first seed with the candidates' validation scores, and the
    best epoch of every seed's run; '' when the runs carry no choices (older records)."""
    methods = [m for m in ORDER if m in summary and m in runs and runs[m] and runs[m][0].get("choices")]
    if not methods:
        return ""
    lines = ["| Method | Learning rate chosen on the first seed (valid score of each candidate) | "
             "Best validation epoch (all seeds and units) |", "|---|---|---|"]
    for m in methods:
        first = runs[m][0]["choices"]
        if len(first) == 1:
            c = first[0]
            cands = ", ".join(f"{lr} {100 * v:.1f}" for lr, v in c["candidates"].items())
            lr_cell = f"{_lr(c['lr'])} ({cands})"
        else:
            by_lr: dict[str, list[str]] = {}
            for c in first:
                by_lr.setdefault(_lr(c["lr"]), []).append(c["unit"])
            lr_cell = "per task: " + "; ".join(f"{lr} ({', '.join(units)})" for lr, units in sorted(by_lr.items()))
        every = [c for run in runs[m] for c in run["choices"]]
        epochs = sorted(c["epoch"] for c in every)
        last = sum(c["epoch"] == c["epochs"] for c in every)
        ep_cell = (f"median {epochs[len(epochs) // 2]} of up to {max(c['epochs'] for c in every)}; "
                   f"the last epoch in {last} of {len(every)} runs")
        lines.append(f"| {NAMES[m]} | {lr_cell} | {ep_cell} |")
    return "\n".join(lines)


def facts(summary: dict, runs: dict, timings: Timings | None = None) -> list[str]:
    """The costs and differences behind the claims, as numbers (no verdicts)."""
    out = []
    if "mta" not in summary:
        return ["MTA was not run."]
    others = [m for m in METHODS if m in summary and m != "mta"]
    diffs = "; ".join(f"{LABELS[b]} {100 * (summary['mta']['macro']['mean'] - summary[b]['macro']['mean']):+.1f}"
                      for b in others)
    out.append(f"Macro score of MTA minus each other method (points, mean over seeds): {diffs}.")
    if "single_ft" in summary:
        c_mta, c_ft = cost(runs, "mta"), cost(runs, "single_ft")
        out.append(f"One MTA model serves all tasks with {_params(c_mta['trainable'])} trained parameters instead of "
                   f"{_params(c_ft['trainable'])} for one fully fine-tuned model per task, and "
                   f"{_params(c_mta['total'])} parameters at inference instead of {_params(c_ft['total'])}.")
    if "adapters" in summary:
        c = cost(runs, "mta", timings)
        s1, s2 = c["stages"].get("stage1"), c["stages"].get("stage2")
        if s1 and s2:
            text = (f"Stage 2 trains {_params(s2['trainable'])} parameters "
                    f"({100 * s2['trainable'] / c['total']:.2f}% of the model)")
            if timings is not None:
                text += f" in {_secs(s2['seconds'])} s vs {_secs(s1['seconds'])} s for stage 1"
            out.append(text + ".")
    out.append("Verdicts on the ALTER claims: see the Verdicts section (paired bootstrap over test examples and "
               "seeds, arms fixed in workflow/claims/alter.yaml).")
    return out


def _delta(v: dict) -> str:
    return f"{100 * v['mean']:+.1f} ± {100 * v['std']:.1f}"


def stage2_section(change: dict, gate_means: dict, tasks: list[str]) -> list[str]:
    """What stage 2 changed: the paired per-task score change of each stage-2 run over the
    stage-1 adapters (``change``, scores.json) and its gate weights at start and end
    (``gate_means``, reports/mta/gates.json), as lines of markdown."""
    runs = [m for m in gates.RUNS if m in change]
    if not runs:
        return []
    missing = [m for m in runs if m not in gate_means]
    if missing:
        raise LmreproError(f"{GATES}: no gate weights of stage-2 run(s) {missing}; rerun mta_eval")
    head = ["Stage-2 run", *[f"{t} ({headline_name(t)})" for t in tasks], "Macro avg",
            "Own-adapter weight, start → end", "Largest weight change"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for m in runs:
        blocks = gate_means[m]["blocks"]
        own = [(gates.own_weight(b["start"]), gates.own_weight(b["end"])) for b in blocks.values()]
        own_txt = ", ".join(f"{a:.3f} → {b:.3f}" for a, b in own)
        moved = gates.largest_change(gate_means[m])
        cells = [NAMES[m], *[_delta(change[m][t]) for t in tasks], f"**{_delta(change[m]['macro'])}**", own_txt,
                 f"{moved:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
        (a, b), k = own[0], len(gate_means[m]["experts"])
        notes.append(f"{NAMES[m]}: a task's weight on its own adapter goes from {a:.2f} at the start of stage 2 "
                     f"(uniform over the {k} adapters would be {1 / k:.2f}) to {b:.2f} at its end; no gate weight "
                     f"moves by more than {moved:.3f}; macro score {100 * change[m]['macro']['mean']:+.1f} points "
                     f"over the stage-1 adapters.")
    return [
        *([f"{NAMES[gates.NEUTRAL]} is an ablation, not a baseline: the same stage 2 ({STAGE2_KEY}) from the same "
           f"stage-1 adapters, but with the gate logits restarted from {gates.RUNS[gates.NEUTRAL].start_key} "
           f"(zero gives every adapter the same weight), so stage 2 has to learn the routing.", ""]
          if gates.NEUTRAL in runs else []),
        "What the second stage changed: each stage-2 run minus the stage-1 adapters it starts from, per task, "
        "paired by seed (score ×100, mean ± std over seeds), and the gate weights it starts and ends with "
        "(mean over seeds; own-adapter weight = mean over tasks of a task's weight on its own adapter; "
        "one value per adapted block).",
        "",
        *lines,
        "",
        *[f"- {n}" for n in notes],
        "",
        f"![gate weights at the start and end of stage 2]({GATES_FIGURE.relative_to('reports').as_posix()})",
    ]


def render_figure(summary: dict, tasks: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lmrepro.io import atomic_path

    methods = [m for m in ORDER if m in summary]
    x = np.arange(len(tasks) + 1)
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(12, 4.5))
    for i, m in enumerate(methods):
        means = [summary[m][t]["mean"] for t in tasks] + [summary[m]["macro"]["mean"]]
        stds = [summary[m][t]["std"] for t in tasks] + [summary[m]["macro"]["std"]]
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, np.array(means) * 100, width,
               yerr=np.array(stds) * 100, capsize=2, label=NAMES[m])
    ax.set_xticks(x, [f"{t}\n({headline_name(t)})" for t in tasks] + ["macro"])
    ax.set_ylabel("score x 100 (mean ± std over seeds)")
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def test_scope(scale: dict) -> str:
    """What the test scores are computed on: the full official test splits when ``n_test``
    exceeds every task's test rows (``test_rows``, counted by mta_eval), else a subsample."""
    rows = scale.get("test_rows")
    if rows and scale["n_test"] > max(rows.values()):
        return f"the full official test split of every task ({sum(rows.values())} test examples in all)"
    return f"{scale['n_test']} seeded test examples per task"


def curve_section(root: Path) -> list[str]:
    """The learning-curve figure (rule mta_curve) when it has been built."""
    if not (Path(root) / CURVE_FIGURE).is_file():
        return []
    out = ["", "Learning curve of the cached-feature methods (training rows per task from mta.data.curve, "
           "nested subsamples, and with mta.curve.full every training row; the table's test examples; "
           "learning rate and epochs chosen on validation as in the table; seeds from mta.curve.seeds):", "",
           f"![learning curve]({CURVE_FIGURE.relative_to('reports').as_posix()})"]
    scores_path = Path(root) / CURVE_SCORES
    if scores_path.is_file():
        from lmrepro.mta.curve import summary

        table = summary(pd.read_parquet(scores_path))
        sizes = sorted(table["n_train"].unique())
        rows = {int(n): table[table.n_train == n]["rows"].mean() for n in sizes}
        head = ["Method", *[f"{rows[int(n)]:.0f} rows/task" for n in sizes]]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method, g in table.groupby("method", sort=False):
            by = {int(r["n_train"]): r for r in g.to_dict("records")}
            cells = [NAMES.get(method, method)] + [
                f"{100 * by[int(n)]['mean']:.1f} ± {100 * by[int(n)]['std']:.1f}" if int(n) in by else "-" for n in sizes]
            lines.append("| " + " | ".join(cells) + " |")
        out += ["", "Macro test score (x100, mean ± std over the curve's seeds):", "", *lines]
    return out


def placement_text(scale: dict, runs: dict | None = None) -> str:
    """The placement search's paragraph (mta/placement.py), '' when it was not run; with the
    run records, multi-task full fine-tuning's validation score on the placement's seed."""
    record = scale.get("placement")
    if not record:
        return ""
    ft = [c["valid"] for r in (runs or {}).get("multi_ft", []) if r["seed"] == record["seed"]
          for c in r.get("choices", [])]
    return placement.describe(record, int(scale["blocks"]), ft[0] if len(ft) == 1 else None)


def precision_used(by_method: dict[str, str]) -> str:
    """The float path of the comparison: the one every method's run records name, or
    ``mixed (method: path, ...)`` when the stages ran on CPUs that resolved
    ``mta.precision: auto`` differently (the report then says so)."""
    paths = set(by_method.values())
    if len(paths) == 1:
        return paths.pop()
    return "mixed (" + ", ".join(f"{m}: {p}" for m, p in sorted(by_method.items())) + ")"


def _precision(scale: dict) -> str:
    auto = " (mta.precision auto: this CPU has bf16 instructions)" if scale.get("precision_requested") == "auto" \
        else " (mta.precision)"
    if scale.get("precision") == "bf16":
        return (f"every method trained and evaluated under bf16 autocast{auto}; weights and optimizer state in "
                f"fp32; interpretation for the time budget")
    if scale.get("precision") == "fp32":
        return "fp32 throughout" + (" (mta.precision auto: this CPU has no bf16 instructions)"
                                    if scale.get("precision_requested") == "auto" else "")
    if str(scale.get("precision", "")).startswith("mixed"):
        return (f"methods trained in different float paths, {scale['precision']}: the stages ran on CPUs that "
                f"resolved mta.precision differently, so small differences between methods may come from that")
    return f"float path {scale.get('precision', 'unrecorded')} (mta.precision {scale.get('precision_requested')})"


def _selection_block(summary: dict, runs: dict, scale: dict) -> list[str]:
    text = selection_table(summary, runs)
    out = ["", "Settings chosen on validation (mta/selection.py; test was read only after each choice):", "",
           text] if text else []
    where = placement_text(scale, runs)
    return out + (["", where] if where else [])


def render(root: Path) -> str:
    root = Path(root)
    for p in (SCORES, RUNS, GATES):
        if not (root / p).is_file():
            raise LmreproError(f"{root / p}: missing; run the mta_eval stage")
    scores = json.loads((root / SCORES).read_text())
    runs = json.loads((root / RUNS).read_text())
    gate_means = json.loads((root / GATES).read_text())
    if CHANGE_KEY not in scores:
        raise LmreproError(f"{root / SCORES}: no {CHANGE_KEY!r} (written by an older mta_eval); rerun mta_eval")
    summary, tasks, scale = scores["summary"], scores["tasks"], scores["scale"]
    text = [
        "## ALTER: Mixture-of-Task-Adapters (MTA)",
        "",
        f"Scale (ours, not the paper's): backbone `{scale['backbone']}` ({scale['blocks']} adapted top "
        f"block(s), bottleneck {scale['bottleneck']}, {scale['n_shared']} shared adapter(s), gate temperature "
        f"{scale['temperature']}); {len(tasks)} tasks; every method trains on the same {scale['n_train']} "
        f"training rows per task (seeded subsample of each task's train split) and is tested on "
        f"{test_scope(scale)}; {scale.get('n_valid', 'no')} validation examples per task choose every "
        f"method's learning rate and epoch the same way (mta.search: the configured rate x "
        f"{scale.get('lr_scales', [1.0])} on the first seed, the later seeds at the chosen rate; each run "
        f"keeps its best validation epoch; table below), max_len {scale['max_len']}, "
        f"{_precision(scale)}, "
        f"seeds {scale['seeds']}. The paper uses T5-base-sized models and the full data sets; papers.md gives "
        f"no per-task numbers from the paper to place beside ours, so the claims are checked by the ranking "
        f"of methods on identical data and seeds. Scores are ×100: accuracy, MCC for CoLA, mean of F1 and "
        f"accuracy for MSRP, 3-way accuracy for SICK; mean ± sample std over seeds. Trainable = parameters "
        f"updated by the method (MTA and AdapterFusion include their stage-1 adapters); Total = parameters "
        f"needed to serve all tasks. Training wall times (machine-dependent, from "
        f"{TIMING_DIR.as_posix()}/): reports/timing.md.",
        "",
        table(summary, runs, tasks),
        *_selection_block(summary, runs, scale),
        "",
        "Behind the claims:",
        "",
        *[f"- {c}" for c in facts(summary, runs)],
        "",
        f"![per-task scores]({FIGURE.relative_to('reports').as_posix()})",
        "",
        *stage2_section(scores[CHANGE_KEY], gate_means, tasks),
        *curve_section(root),
    ]
    return "\n".join(text) + "\n"


def render_timing(root: Path, paths: list[Path]) -> str:
    """Training wall seconds per method (mean over seeds, per training stage and in total;
    MTA and AdapterFusion include their stage-1 adapters), for reports/timing.md."""
    root = Path(root)
    if not (root / SCORES).is_file() or not (root / RUNS).is_file():
        return ""
    summary = json.loads((root / SCORES).read_text())["summary"]
    runs = json.loads((root / RUNS).read_text())
    timings = read_timings([root / p for p in paths])
    lines = ["| Method | Trainable | Time (s) | per training stage (s) |", "|---|---:|---:|---|"]
    for m in (m for m in ORDER if m in summary):
        c = cost(runs, m, timings)
        stages = ", ".join(f"{name} {_secs(v['seconds'])}" for name, v in c["stages"].items())
        lines.append(f"| {NAMES[m]} | {_params(c['trainable'])} | {_secs(c['seconds'])} | {stages} |")
    return "Training wall time per seed (mean over seeds), threads and device as in each file.\n\n" + \
        "\n".join(lines) + "\n"
