"""The ProSG section of reports/results.md: our numbers (accuracy with 95% Wilson
intervals per method and distance), the scale and what we interpret.

No verdicts here: the claims are decided by paired tests on the per-item predictions
(workflow/claims/prosg.yaml, lmrepro.report.claims), shown in the Verdicts section.
No wall-clock either: render_timing formats reports/prosg/timing/*.json for
reports/timing.md (lmrepro.report.timing), so results.md is byte-identical across runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmrepro.errors import LmreproError
from lmrepro.prosg.scoring import wilson
from lmrepro.prosg.figures import LABELS


def _pooled(m: dict, method: str) -> tuple[float, float, float]:
    c, n = m["with_filler"][method]["correct"], m["with_filler"][method]["n"]
    lo, hi = wilson(c, n)
    return c / n, lo, hi


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


def render(root: Path) -> str:
    metrics_dir = root / "reports" / "metrics" / "prosg"
    eval_file = metrics_dir / "eval.json"
    if not eval_file.is_file():
        return ""
    m = json.loads(eval_file.read_text())
    pre = json.loads((metrics_dir / "pretrain.json").read_text()) if (metrics_dir / "pretrain.json").is_file() else {}
    none = m["accuracy"]["none"]
    distances = sorted(none, key=int)
    near, far = distances[0], distances[-1]
    ci = m["ci"]
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
        "![accuracy vs distance](prosg/accuracy_vs_distance.png)",
        "",
    ]
    table = root / "reports" / "prosg" / "accuracy.md"
    if table.is_file():
        lines += [table.read_text(), ""]
    lines.append("The numbers behind the ProSG claims (their paired tests and verdicts: Verdicts section):")
    lines.append("")
    lines.append(
        f"- **Forgetting.** Base accuracy {none[near]:.2f} [{ci['none'][near][0]:.2f}, {ci['none'][near][1]:.2f}] at "
        f"distance {near} vs {none[far]:.2f} [{ci['none'][far][0]:.2f}, {ci['none'][far][1]:.2f}] at {far} (all kinds pooled)."
        + _per_kind(root, near, far)
    )
    for method, what in (("prosg", "end-to-end ProSG"), ("prosg_sg", "ProSG trained by gradient regression")):
        acc, lo, hi = _pooled(m, method)
        base, blo, bhi = _pooled(m, "none")
        far_acc, far_ci = m["accuracy"][method][far], tuple(ci[method][far])
        lines.append(
            f"- **Remembering, {what}.** With filler (distance > 0, pooled): "
            f"{acc:.2f} [{lo:.2f}, {hi:.2f}] vs no update {base:.2f} [{blo:.2f}, {bhi:.2f}]. At the longest distance "
            f"({far} words): {far_acc:.2f} [{far_ci[0]:.2f}, {far_ci[1]:.2f}] vs {none[far]:.2f} "
            f"[{ci['none'][far][0]:.2f}, {ci['none'][far][1]:.2f}]."
        )
    acc, lo, hi = _pooled(m, "prosg")
    racc, rlo, rhi = _pooled(m, "random")
    lines.append(
        f"- **Control.** End-to-end ProSG {acc:.2f} [{lo:.2f}, {hi:.2f}] vs a random update of the same rank and norm "
        f"{racc:.2f} [{rlo:.2f}, {rhi:.2f}] (with filler, pooled)."
    )
    oacc, olo, ohi = _pooled(m, "oracle")
    base, blo, bhi = _pooled(m, "none")
    lines.append(
        f"- **Mechanism** (the true gradient of the prompt's reconstruction loss, i.e. what a perfect synthetic "
        f"gradient would produce; step size {m['oracle_lr']:g} picked on valid). With filler: {oacc:.2f} "
        f"[{olo:.2f}, {ohi:.2f}] vs no update {base:.2f} [{blo:.2f}, {bhi:.2f}]."
    )
    uacc, ulo, uhi = _pooled(m, "repeat")
    lines.append(
        f"- **Upper bound.** Prompt repeated right before the query (no distance left), with filler: {uacc:.2f} "
        f"[{ulo:.2f}, {uhi:.2f}]."
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
    for path in sorted(paths, key=lambda p: (p.stem != "eval_prosg", p.name)):
        try:
            t = json.loads((root / path).read_text())
            if path.stem == "eval_prosg":
                rel = t["relative_to_no_update"]
                lines.append(
                    f"- **Cost (wall-clock of eval_prosg, relative to no update).** ProSG {rel['prosg']:.2f}x, oracle "
                    f"{rel['oracle']:.2f}x (a backward pass through every prompt), prompt repeated "
                    f"{rel['repeat']:.2f}x. Generation speed (tokens/s) is measured by `python -m lmrepro.prosg.bench`.")
            else:
                lines.append(f"- **Training wall-clock** {path.stem}: {t['seconds']:.0f} s "
                             f"({t['steps_per_second']:.2f} steps/s, {t['device']}, {t['threads']} threads).")
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise LmreproError(f"{root / path}: not a ProSG timing file ({type(err).__name__}: {err})") from err
    return "\n".join(lines) + "\n" if lines else ""
