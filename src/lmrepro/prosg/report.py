"""The ProSG section of reports/results.md: our numbers (accuracy per method and distance,
mean over seeds and items with a 95% CI resampling both), the scale and what we interpret.
Every number comes from the stages' metrics files; none is typed here.

No verdicts here: the claims are decided by paired tests on the per-item predictions
(workflow/claims/prosg.yaml, lmrepro.report.claims), shown in the Verdicts section.
No wall-clock either: render_timing formats reports/prosg/timing/*.json for
reports/timing.md (lmrepro.report.timing), so results.md is byte-identical across runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmrepro.errors import LmreproError


def _pooled(m: dict, method: str) -> str:
    """Mean [CI] with filler (every distance above 0, kinds pooled), over seeds and items."""
    w = m["with_filler"][method]
    return f"{w['mean']:.2f} [{w['ci'][0]:.2f}, {w['ci'][1]:.2f}]"


def _at(m: dict, method: str, distance: str) -> str:
    lo, hi = m["ci"][method][distance]
    return f"{m['accuracy'][method][distance]:.2f} [{lo:.2f}, {hi:.2f}]"


def _per_kind(root: Path, near: str, far: str) -> str:
    """Per prompt kind, base accuracy near vs far (pooling can hide a kind that does recall)."""
    path = root / "data" / "prosg" / "eval" / "accuracy.parquet"
    if not path.is_file():
        return ""
    import pandas as pd

    acc = pd.read_parquet(path)
    base = acc[(acc["method"] == "none") & (acc["kind"] != "all")].set_index(["kind", "distance"])
    parts = []
    for kind in sorted(base.index.get_level_values(0).unique()):
        a, b = base.loc[(kind, int(near))], base.loc[(kind, int(far))]
        parts.append(f"{kind} {a.accuracy:.2f} -> {b.accuracy:.2f}")
    return " Per kind: " + "; ".join(parts) + "."


def _pretrain(metrics_dir: Path, seeds: list) -> dict:
    path = metrics_dir / f"pretrain-s{seeds[0]}.json" if seeds else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}


def _long_base_scale(metrics_dir: Path, seeds: list) -> str:
    """How the long base was made, from pretrain_rnn_long's metrics (steps per distance)."""
    path = metrics_dir / f"pretrain_long-s{seeds[0]}.json" if seeds else None
    if path is None or not path.is_file():
        return "it was not run."
    lb = json.loads(path.read_text())
    per = ", ".join(f"{d} words {n}" for d, n in sorted(lb["steps_per_distance"].items(), key=lambda kv: int(kv[0])))
    return (f"each seed's base continued for {lb['steps']} steps on every distance (`prosg.long_base`; one distance "
            f"per step, seed {lb['seed']}: {per}), then its main generator trained the same way on it "
            "(the validation search's lr and steps, made on the short base).")


def _tuning(metrics_dir: Path) -> list[str]:
    """The validation search's record: per family, accuracy per lr and steps, the choice in bold."""
    from lmrepro.prosg.tuning import render as render_trials, select

    by_family: dict[str, list[dict]] = {}
    for path in sorted(metrics_dir.glob("tune-*.json")):
        trial = json.loads(path.read_text())
        by_family.setdefault(trial["variant"], []).append(trial)
    if not by_family:
        return []
    first = next(iter(by_family.values()))[0]
    lines = [f"**Tuning record** (`prosg.tune`; stage tune_prosg, runs in MLflow). Each family's learning rate and "
             f"number of steps were chosen on the {first['split']} split ({first['valid_items']} items, every kind and "
             f"distance) with the base of seed {first['seed']}, and used for every seed; the test split was not read. "
             "Validation accuracy of each family's leader (`prosg.tune.families`) per learning rate and step count:",
             ""]
    for family, trials in sorted(by_family.items()):
        chosen = select(trials)
        lrs = [t["lr"] for t in trials]
        last = max(p["steps"] for t in trials for p in t["curve"])
        edges = ([f"its lr is the {'largest' if chosen['lr'] == max(lrs) else 'smallest'} tried"]
                 if len(lrs) > 1 and chosen["lr"] in (min(lrs), max(lrs)) else [])
        edges += ["its steps are the most tried"] if chosen["steps"] == last else []
        edge_note = f" At the search's edge ({' and '.join(edges)}): a wider grid might choose otherwise." if edges else ""
        lines += [f"*{family}* (chosen: lr {chosen['lr']:g}, {chosen['steps']} steps).{edge_note}", "",
                  render_trials(trials), ""]
    return lines


def render(root: Path) -> str:
    metrics_dir = root / "reports" / "metrics" / "prosg"
    eval_file = metrics_dir / "eval.json"
    if not eval_file.is_file():
        return ""
    m = json.loads(eval_file.read_text())
    seeds = m.get("seeds", [])
    pre = _pretrain(metrics_dir, seeds)
    none = m["accuracy"]["none"]
    distances = sorted(none, key=int)
    near, far = distances[0], distances[-1]
    items = m.get("items_per_distance", {})
    lrs = sorted(set(m["oracle_lr"].values())) if isinstance(m["oracle_lr"], dict) else [m["oracle_lr"]]
    lines = [
        "## ProSG: prompt synthetic gradients (Luo et al., arXiv 2311.01981)",
        "",
        "**This is our interpretation.** The paper has no public code and we only know its abstract, so the "
        "dataset (key-value facts, a passkey, an output-format rule, then real-text filler, then a query), the "
        "generator (prompt-final states -> r pairs (a_i, b_i), W' = W - eta sum a_i b_i^T applied in factored form "
        "after the prompt and then discarded) and both training objectives are our reading of it. The paper reports "
        "no numbers we could compare with. Scale: a CPU-sized RWKV-4 "
        + (f"({pre['parameters']:,} parameters, BPE vocabulary {pre['vocab_size']}) " if pre else "")
        + "pre-trained here for minutes on the corpus and on task examples with short filler only "
        f"(`prosg.pretrain.max_distance`), tested with up to {far} words of filler; the paper used larger "
        "pretrained RNN-like LMs.",
        "",
        f"**Seeds and uncertainty.** {len(seeds)} paired seeds of the whole track (`prosg.seeds`: seed s pre-trains "
        "base s and trains every generator on it); every number below is a mean over the seeds and the test items "
        + (f"({items[far]} items per distance, all kinds) " if far in items else "")
        + "with a 95% CI that resamples both. The base is pre-trained on short filler only, so forgetting and "
        "ProSG's gain at long distance mix memory with length generalisation; the *long base* separates them: "
        + _long_base_scale(metrics_dir, seeds),
        "",
        "![accuracy vs distance](prosg/accuracy_vs_distance.png)",
        "",
        "![short vs long base](prosg/long_base.png)",
        "",
    ]
    table = root / "reports" / "prosg" / "accuracy.md"
    if table.is_file():
        lines += [table.read_text(), ""]
    lines += _tuning(metrics_dir)
    lines.append("The numbers behind the ProSG claims (their paired tests and verdicts: Verdicts section):")
    lines.append("")
    lines.append(f"- **Forgetting.** Base accuracy {_at(m, 'none', near)} at distance {near} vs {_at(m, 'none', far)} "
                 f"at {far} (all kinds pooled)." + _per_kind(root, near, far))
    sg_etas = sorted(set(m["sg_eta"].values())) if "sg_eta" in m else []
    picked = (f" (its test-time step size eta picked per seed on valid, as the oracle's: "
              + ", ".join(f"{eta:g}" for eta in sg_etas) + ")") if sg_etas else ""
    for method, what in (("prosg", "end-to-end ProSG"), ("prosg_sg", "ProSG trained by gradient regression" + picked)):
        lines.append(
            f"- **Remembering, {what}.** With filler (distance > 0, pooled): {_pooled(m, method)} vs no update "
            f"{_pooled(m, 'none')}. At the longest distance ({far} words): {_at(m, method, far)} vs "
            f"{_at(m, 'none', far)}."
        )
    controls = [("prosg_other", "the same generator fed another test prompt's states (same kind)"),
                ("prosg_shuffled", "a generator trained the same way on shuffled prompt states"),
                ("random", "a random update of the same rank and norm")]
    lines.append(
        f"- **Controls** (at the longest distance). End-to-end ProSG {_at(m, 'prosg', far)} vs "
        + "; ".join(f"{what} {_at(m, method, far)}" for method, what in controls if method in m["accuracy"])
        + ". The first two are trained, prompt-ignoring updates: they separate remembering the prompt from any "
        "trained update that helps long inputs."
    )
    lines.append(
        f"- **Mechanism** (the true gradient of the prompt's reconstruction loss, i.e. what a perfect synthetic "
        f"gradient would produce; step size picked per seed on valid, {m['valid_items']} items: "
        + ", ".join(f"{lr:g}" for lr in lrs) + f"). With filler: {_pooled(m, 'oracle')} vs no update "
        f"{_pooled(m, 'none')}."
    )
    lines.append(
        f"- **Upper bound.** Prompt repeated right before the query (no distance left), with filler: "
        f"{_pooled(m, 'repeat')}."
    )
    if "long_none" in m["accuracy"]:
        lines.append(
            f"- **Memory, not length generalisation (long base).** The long base with no update: {_at(m, 'long_none', near)} "
            f"at distance {near} vs {_at(m, 'long_none', far)} at {far} (short base: {_at(m, 'none', far)} at {far}). "
            f"End-to-end ProSG on it at {far} words: {_at(m, 'long_prosg', far)} vs no update "
            f"{_at(m, 'long_none', far)}; prompt repeated {_at(m, 'long_repeat', far)}. What the long base gains over the "
            "short one at long distance is length generalisation; what it still loses, and what ProSG recovers on it, "
            "is memory."
        )
    ranks = m.get("rank_variant", {})
    if ranks:
        scores = m["rank_valid_accuracy"]
        lines.append(
            f"- **Rank** (`prosg.eval.rank_candidates`, chosen per seed on valid, {m['valid_items']} items): "
            + "; ".join(f"seed {seed} {ranks[seed]} (" + ", ".join(f"{v} {a:.3f}" for v, a in scores[seed].items()) + ")"
                        for seed in sorted(ranks))
            + ". The chosen variant is the ProSG line (method prosg); every candidate is also in the sweep table under "
            "its own name. The shuffled control is trained at main's rank whatever the choice."
        )
    lines.append(_kinds_note(root))
    lines.append("")
    return "\n".join(lines)


def _kinds_note(root: Path) -> str:
    """What the three kinds measure; the answer-pool size is read from the predictions."""
    preds = root / "data" / "prosg" / "preds.parquet"
    pool = ""
    if preds.is_file():
        import pandas as pd

        answers = pd.read_parquet(preds, columns=["kind", "answer"]).drop_duplicates()
        pool = " (the test items use " + ", ".join(
            f"{n} distinct {k} answers" for k, n in answers.groupby("kind")["answer"].nunique().items()) + ")"
    return (
        "- **How to read the kinds.** Answer words (kv values, passkeys, format tags) come from one pool of frequent "
        f"corpus words shared by the splits{pool}, so only the prompt says which one is right; kv names are new at "
        "test time. kv prompts hold two facts: a model that keeps both values but not which name has which is right "
        "half the time, so kv measures binding more than memory."
    )


def render_timing(root: Path, paths: list[Path]) -> str:
    """Evaluation cost relative to no update (eval_prosg) and training wall-clock (the other
    stages), from the timing files in ``paths``, for reports/timing.md."""
    lines = []
    for path in sorted(paths, key=lambda p: (not p.stem.startswith("eval_prosg"), p.name)):
        try:
            t = json.loads((root / path).read_text())
            if path.stem.startswith("eval_prosg_long"):
                lines.append(f"- **Long-base evaluation** {path.stem}: " + ", ".join(
                    f"{m} {sec:.0f} s" for m, sec in t["seconds"].items()) + f" ({t['device']}, {t['threads']} threads).")
            elif path.stem.startswith("eval_prosg"):
                rel = t["relative_to_no_update"]
                lines.append(
                    f"- **Cost (wall-clock of {path.stem}, relative to no update).** ProSG {rel['prosg']:.2f}x, oracle "
                    f"{rel['oracle']:.2f}x (a backward pass through every prompt), prompt repeated "
                    f"{rel['repeat']:.2f}x. Generation speed (tokens/s) is measured by `python -m lmrepro.prosg.bench`.")
            elif path.stem.startswith("tune_prosg"):
                lines.append(f"- **Validation search** {path.stem}: {t['seconds']:.0f} s for {t['steps']} steps, of "
                             f"which {t['scoring_seconds']:.0f} s scoring the valid split ({t['device']}, "
                             f"{t['threads']} threads).")
            else:
                lines.append(f"- **Training wall-clock** {path.stem}: {t['seconds']:.0f} s "
                             f"({t['steps_per_second']:.2f} steps/s, {t['device']}, {t['threads']} threads).")
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise LmreproError(f"{root / path}: not a ProSG timing file ({type(err).__name__}: {err})") from err
    return "\n".join(lines) + "\n" if lines else ""
