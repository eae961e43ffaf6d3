"""The validation search of the ProSG generators' learning rate and number of steps.

Why a search: the generator's lr and steps decide how much of the prompt it can learn to
write into the weights, and a hand-set value chosen while looking at test numbers would
make every ProSG verdict suspect. So for each *family* of variants (a leader and the
variants that must be trained the same way, e.g. the shuffled-states control with main),
the leader is trained once per lr of ``prosg.tune.lrs`` on the base of ``prosg.tune.seed``,
scored on the validation split after every ``prosg.tune.every`` steps up to its
``steps``, and the (lr, steps) with the best validation accuracy is used for every
variant of the family and every seed. The test split is never read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lmrepro.errors import LmreproError


@dataclass(frozen=True)
class TuneConfig:
    seed: int  # the base (one of prosg.seeds) the search trains on
    lrs: list[float]  # learning rates tried, one trial each
    every: int  # steps between two validation scores
    families: dict[str, list[str]] = field(default_factory=dict)  # leader -> variants trained like it


def family_of(families: dict[str, list[str]], variants: list[str]) -> dict[str, str]:
    """variant -> its family's leader; every variant in exactly one family, each leader in its own."""
    owner: dict[str, str] = {}
    for leader, members in families.items():
        if leader not in members:
            raise LmreproError(f"prosg.tune.families.{leader}: the leader must be one of its own variants")
        for v in members:
            if v not in variants:
                raise LmreproError(f"prosg.tune.families.{leader}: {v!r} is not a key of prosg.variants")
            if v in owner:
                raise LmreproError(f"prosg.tune.families: {v!r} is in two families ({owner[v]}, {leader})")
            owner[v] = leader
    missing = [v for v in variants if v not in owner]
    if missing:
        raise LmreproError(f"prosg.tune.families: variant(s) {missing} are in no family, so nothing would choose "
                           "their lr and steps on validation")
    return owner


def checkpoints(steps: int, every: int) -> list[int]:
    """Step counts at which a trial is scored: every ``every`` steps, and always the last."""
    if every < 1 or steps < 1:
        raise LmreproError(f"prosg.tune.every and the leader's steps must be >= 1 (got {every}, {steps})")
    return sorted({*range(every, steps + 1, every), steps})


def select(trials: list[dict]) -> dict:
    """The (lr, steps) with the best validation accuracy over every trial's checkpoints.

    Each trial is a tune_prosg metrics document: {"lr", "curve": [{"steps", "valid_accuracy"}]}.
    Ties go to fewer steps, then to the smaller lr (the cheaper, more conservative choice)."""
    if not trials:
        raise LmreproError("no tuning trials to select from (reports/metrics/prosg/tune-*.json)")
    leaders = {t["variant"] for t in trials}
    if len(leaders) != 1:
        raise LmreproError(f"tuning trials of several families mixed: {sorted(leaders)}")
    points = [(p["valid_accuracy"], -p["steps"], -t["lr"], t["lr"], p["steps"]) for t in trials for p in t["curve"]]
    if not points:
        raise LmreproError(f"tuning trials of {leaders.pop()!r} have no validation scores")
    acc, _, _, lr, steps = max(points)
    first = trials[0]
    return {"family": first["variant"], "lr": lr, "steps": steps, "valid_accuracy": acc,
            "split": first["split"], "valid_items": first["valid_items"], "seed": first["seed"]}


def render(trials: list[dict]) -> str:
    """Markdown: validation accuracy per lr (rows) and steps (columns), the choice in bold."""
    if not trials:
        return ""
    chosen = select(trials)
    steps = sorted({p["steps"] for t in trials for p in t["curve"]})
    lines = ["| lr | " + " | ".join(f"{s} steps" for s in steps) + " |",
             "|---|" + "---:|" * len(steps)]
    for t in sorted(trials, key=lambda t: t["lr"]):
        by_steps = {p["steps"]: p["valid_accuracy"] for p in t["curve"]}
        cells = []
        for s in steps:
            if s not in by_steps:
                cells.append("")
                continue
            cell = f"{by_steps[s]:.3f}"
            cells.append(f"**{cell}**" if (t["lr"], s) == (chosen["lr"], chosen["steps"]) else cell)
        lines.append(f"| {t['lr']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
