"""The claims registry: every claim's test fixed before results exist.

One YAML file per paper under workflow/claims/, validated against
workflow/schemas/claims.schema.yaml. A claim names its arms (the runs whose per-unit
outcomes are compared, as ``select`` filters a track's outcome loader understands), the
metric, the direction, the pairing unit, the test, alpha and the smallest effect that
matters. Nothing in it may be chosen after seeing results: the file is an input of the
evaluate stage and its git history is the pre-registration record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lmrepro.errors import LmreproError

SCHEMA = Path("workflow") / "schemas" / "claims.schema.yaml"
REGISTRY_DIR = Path("workflow") / "claims"


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label for the report and the loader's selection."""

    label: str
    select: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    source: str  # which track's outcome loader reads the arms
    claim: str  # the paper's words
    test: str  # our operational test, in words
    metric: str
    unit: str  # the pairing unit: user, example, item, row, scenario
    a: Arm
    b: tuple[Arm, ...]  # every comparator: the claim must hold against each
    direction: str  # greater | less | noninferior | wins_region
    statistic: str  # paired_bootstrap | mcnemar | region
    alpha: float
    min_effect: float
    margin: float = 0.0
    tuned: tuple[str, ...] = field(default_factory=tuple)  # choices made on data, and on which split
    region: dict[str, Any] = field(default_factory=dict)  # selection keys added to every arm


@dataclass(frozen=True)
class Registry:
    paper: str
    source: str
    claims: tuple[Claim, ...]
    path: Path


def _arm(node: dict) -> Arm:
    return Arm(label=str(node["label"]), select=dict(node.get("select", {})))


def load(path: Path, root: Path) -> Registry:
    """Read and validate one paper's registry; a bad file names the file and the key."""
    import jsonschema

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise LmreproError(f"{path}: cannot read the claims registry ({err})") from err
    if isinstance(doc, dict) and isinstance(doc.get("claims"), list):
        # each claim inherits the file's defaults before validation
        doc["claims"] = [{**doc.get("defaults", {}), **c} if isinstance(c, dict) else c for c in doc["claims"]]
    schema = yaml.safe_load((root / SCHEMA).read_text(encoding="utf-8"))
    problems = [
        f"  {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)
    ]
    if problems:
        raise LmreproError(f"{path}: invalid claims registry:\n" + "\n".join(problems))
    claims = []
    for node in doc["claims"]:
        comparators = node["b"] if isinstance(node["b"], list) else [node["b"]]
        claims.append(
            Claim(
                id=node["id"], paper=doc["paper"], source=doc["source"], claim=node["claim"].strip(),
                test=node["test"].strip(), metric=node["metric"], unit=node["unit"], a=_arm(node["a"]),
                b=tuple(_arm(c) for c in comparators), direction=node["direction"], statistic=node["statistic"],
                alpha=float(node["alpha"]), min_effect=float(node["min_effect"]), margin=float(node.get("margin", 0.0)),
                tuned=tuple(node.get("tuned", [])), region=dict(node.get("region", {})),
            )
        )
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise LmreproError(f"{path}: claim ids must be unique, got {ids}")
    return Registry(paper=doc["paper"], source=doc["source"], claims=tuple(claims), path=path)


def registry_files(root: Path) -> list[Path]:
    return sorted((root / REGISTRY_DIR).glob("*.yaml"))


def load_all(root: Path) -> list[Registry]:
    regs = [load(p, root) for p in registry_files(root)]
    ids = [c.id for r in regs for c in r.claims]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise LmreproError(f"{root / REGISTRY_DIR}: claim ids repeated across papers: {dup}")
    return regs
