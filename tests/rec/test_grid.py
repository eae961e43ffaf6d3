"""The rec training grid: blocks of rec.grid, or the full product when it is empty; the
default profile's grid trains every arm of the LightLM claims it can decide."""

from pathlib import Path

import yaml

from lmrepro.config import load_params
from lmrepro.rec.grid import train_runs

ROOT = Path(__file__).resolve().parents[2]
BASE = {"datasets": ["beauty"], "indexings": ["random", "sci"], "ablations": ["sci_leak"],
        "ablation_models": ["lightlm"], "models": ["lightlm", "wide"], "settings": ["direct", "sequential"]}


def test_empty_grid_is_the_full_product_plus_ablations():
    runs = train_runs({**BASE, "grid": []})
    assert len(runs) == 2 * 2 * 2 + 1 * 1 * 2
    assert "beauty-sci_leak-lightlm-direct" in runs and "beauty-sci_leak-wide-direct" not in runs


def test_grid_blocks_are_a_union_without_repeats_in_order():
    grid = [{"methods": ["random", "sci"], "models": ["lightlm"], "settings": ["sequential"]},
            {"methods": ["sci"], "models": ["lightlm", "wide"], "settings": ["sequential"]}]
    assert train_runs({**BASE, "grid": grid}) == [
        "beauty-random-lightlm-sequential", "beauty-sci-lightlm-sequential", "beauty-sci-wide-sequential"]


def test_default_grid_trains_the_arms_of_the_claims_it_decides():
    params = load_params(ROOT / "params.yaml")
    runs = set(train_runs(params["rec"]))
    registry = yaml.safe_load((ROOT / "workflow" / "claims" / "lightlm.yaml").read_text())
    decided = []
    for claim in registry["claims"]:
        arms = [claim["a"], *(claim["b"] if isinstance(claim["b"], list) else [claim["b"]])]
        needed = set()
        for arm in arms:
            sel = arm["select"]
            if "peer" in sel:
                continue
            methods = sel["method"] if isinstance(sel["method"], list) else [sel["method"]]
            needed |= {f"{sel['dataset']}-{m}-{sel['model']}-{sel['setting']}" for m in methods}
        if needed <= runs:
            decided.append(claim["id"])
    # the claims the issue asks the default profile to decide (the rest: paper profile)
    assert {"lightlm-depth-vs-wide-sequential", "lightlm-vs-p5-sequential", "lightlm-sci-sequential",
            "lightlm-sci-direct", "lightlm-sci-cluster-qr", "lightlm-gci-sequential",
            "lightlm-beats-peers"} <= set(decided)
    assert len(runs) == 11  # the budgeted grid, not the product (3 x 6 x 2 + ablations)
