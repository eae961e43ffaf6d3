"""What it would cost to evaluate every MTA method on the FULL official test split of
every task at a profile (issue 14 item 1), measured on this machine rather than guessed.

Run: ``python -m lmrepro.mta.evalcost [--profile smoke|paper] [--per-task 128] [--threads 1]``

Why these three timings: test evaluation happens at the end of each training stage.
Adapter methods (per-task adapters, MTA, shared, one-stage joint, AdapterFusion) read the
frozen lower blocks from the feature cache, so every test example costs one lower-block
pass once (mta_features) plus one top-block pass per method and seed. The two full
fine-tuning baselines train the lower blocks, so each of their test predictions is a
full encoder forward. Each cost is CPU seconds per example (``time.process_time``, so
other jobs on a shared machine do not inflate it), measured per task on a random sample
of that task's real test examples in batches of 64 (as ``train.predict``), then scaled
by the task's full test size, the seeds and the methods.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from lmrepro import config
from lmrepro.data.nlu import NluConfig, build_nlu
from lmrepro.mta.backbone import load_backbone
from lmrepro.mta.data import encode
from lmrepro.mta.features import compute_features
from lmrepro.mta.methods import BASELINES
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.train import Inputs, predict
from lmrepro.paths import data_mirror, repo_root

ADAPTER_METHODS = ("adapters", "mta", *(b for b in BASELINES if not b.endswith("_ft")))
FULL_FT_METHODS = tuple(b for b in BASELINES if b.endswith("_ft"))


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def measure(table: pd.DataFrame, params: dict, per_task: int, seed: int = 0) -> pd.DataFrame:
    """Per task: full test size, mean tokens, and CPU seconds per example of the lower
    blocks (cache), the adapted top block (adapter methods) and the full forward (full FT)."""
    mta = params["mta"]
    encoder, tokenizer = load_backbone(mta["backbone"])
    mix = config.from_dict(MixtureConfig, mta["mixture"], "mta.mixture")
    tasks = list(mta["data"]["tasks"])
    test = table[(table["split"] == "test") & table["task"].isin(tasks)]
    rng = np.random.default_rng(seed)
    rows = []
    for task in tasks:
        full = test[test["task"] == task].reset_index(drop=True)
        sample = full.iloc[np.sort(rng.permutation(len(full))[:per_task])].reset_index(drop=True)
        enc = encode(sample, tokenizer, int(mta["data"]["max_len"]))
        n_labels = int(table.loc[table["task"] == task, "label"].max()) + 1
        model = MtaClassifier(encoder, {task: n_labels}, mix, "mixture").eval()
        all_rows = np.arange(len(sample))
        with torch.no_grad():
            feats: list = []
            lower = _cpu(lambda: feats.append(compute_features(MtaClassifier(encoder, {task: n_labels}, mix, "none"),
                                                               enc, key="evalcost")))
            top = _cpu(lambda: predict(model, Inputs(enc, feats[0]), all_rows, task))
            whole = _cpu(lambda: predict(model, Inputs(enc), all_rows, task))
        full_tokens = int(enc.offsets[-1]) / len(sample) * len(full)
        rows.append({"task": task, "test": len(full), "sampled": len(sample), "mean_tokens": enc.lengths().mean(),
                     "lower_s": lower / len(sample), "top_s": top / len(sample), "full_s": whole / len(sample),
                     "cache_mb": full_tokens * encoder.config.hidden_size * 2 * 4 / 1e6})
    return pd.DataFrame(rows)


def costs(per_task: pd.DataFrame, n_seeds: int, n_test: int) -> dict[str, dict[str, float]]:
    """CPU seconds of test evaluation, full test split vs the ``n_test`` subsample."""
    out = {}
    for label, n in (("full", per_task["test"]), (f"n_test={n_test}", np.minimum(per_task["test"], n_test))):
        cache = float((n * per_task["lower_s"]).sum())
        one_adapter = float((n * per_task["top_s"]).sum()) * n_seeds
        one_ft = float((n * per_task["full_s"]).sum()) * n_seeds
        out[label] = {"examples": int(n.sum()), "feature_cache_s": cache, "per_adapter_method_s": one_adapter,
                      "adapter_methods_s": cache + one_adapter * len(ADAPTER_METHODS),
                      "per_full_ft_method_s": one_ft, "full_ft_methods_s": one_ft * len(FULL_FT_METHODS),
                      "cache_mb": float((per_task["cache_mb"] * n / per_task["test"]).sum())}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=["smoke", "paper"], default=None, help="overlay; default profile if absent")
    ap.add_argument("--per-task", type=int, default=128, help="test examples timed per task")
    ap.add_argument("--threads", type=int, default=None, help="default: runtime.threads of the profile")
    args = ap.parse_args(argv)
    root = repo_root()
    files = [root / "params.yaml"] + ([root / "workflow/profiles" / args.profile / "params.yaml"] if args.profile else [])
    params = config.load_params(*files)
    torch.set_num_threads(args.threads or int(params["runtime"]["threads"]))
    mirror = data_mirror(params["data"]["mirror"], root)
    table = build_nlu(mirror / "nlu", config.from_dict(NluConfig, params["data"]["nlu"], "data.nlu"))
    per_task = measure(table, params, args.per_task)
    seeds, n_test = len(params["mta"]["seeds"]), int(params["mta"]["data"]["n_test"])
    result = costs(per_task, seeds, n_test)
    pd.set_option("display.width", 200)
    print(f"threads {torch.get_num_threads()}, max_len {params['mta']['data']['max_len']}, seeds {seeds}; "
          f"CPU ms per test example (measured on up to {args.per_task} per task):")
    print((per_task.set_index("task")[["test", "mean_tokens", "lower_s", "top_s", "full_s"]]
           .assign(lower_s=lambda d: d.lower_s * 1e3, top_s=lambda d: d.top_s * 1e3, full_s=lambda d: d.full_s * 1e3)
           .rename(columns={"lower_s": "lower_ms", "top_s": "top_ms", "full_s": "full_ms"}).round(3)).to_string())
    for label, r in result.items():
        print(f"{label}: {r['examples']} test examples; feature cache {r['feature_cache_s']:.1f} s "
              f"({r['cache_mb']:.0f} MB); each adapter method {r['per_adapter_method_s']:.1f} s over {seeds} seeds, "
              f"all {len(ADAPTER_METHODS)} incl. cache {r['adapter_methods_s']:.1f} s; each full-FT baseline "
              f"{r['per_full_ft_method_s']:.1f} s, both {r['full_ft_methods_s']:.1f} s; "
              f"total {r['adapter_methods_s'] + r['full_ft_methods_s']:.1f} CPU s")
    return result


if __name__ == "__main__":
    main()
