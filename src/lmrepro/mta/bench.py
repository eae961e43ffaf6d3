"""Benchmark: training epoch on cached lower-block features vs the naive full forward.

Run: ``python -m lmrepro.mta.bench [--n 512] [--epochs 2] [--threads 2]``
Prints the naive and cached epoch times, their ratio (target >= 3x), the one-time cost
of building the cache, and the max |logit difference| between the two paths for the same
trained model over every example. Both paths train the same one-stage MTA (all adapters,
gates and heads) from the same seed on the same batches.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lmrepro.errors import LmreproError
from lmrepro.measure import CheckResult, peak_mb, time_training
from lmrepro.mta.backbone import DEFAULT_BACKBONE, load_backbone
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.features import compute_features
from lmrepro.mta.methods import Task
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.placement import CHOSEN
from lmrepro.mta.precision import cpu_capability, native_bf16
from lmrepro.mta.train import Inputs, TrainConfig, balanced_schedule, names_with, train
from lmrepro.paths import data_mirror


def _table(path: Path, raw_dir: Path) -> pd.DataFrame:
    """The foundation's NLU table when built, else SST-2 read straight from the raw mirror."""
    if path.is_file():
        return pd.read_parquet(path)
    rows = []
    for split, name in (("train", "stsa.binary.train"), ("valid", "stsa.binary.dev"), ("test", "stsa.binary.test")):
        for line in (raw_dir / "nlu" / "sst2" / name).read_text(encoding="latin-1").splitlines():
            label, text = line.split(" ", 1)
            rows.append(("sst2", split, text, None, int(label)))
    return pd.DataFrame(rows, columns=["task", "split", "text_a", "text_b", "label"])


def gpu_step(params: dict, device, amp: bool, steps: int) -> CheckResult:
    """One stage-1 step (adapters + heads, backbone frozen, full forward) on mta.backbone."""
    import torch

    from lmrepro.config import from_dict
    from lmrepro.mta.backbone import DEFAULT_BACKBONE, load_backbone, resolve_backbone
    from lmrepro.mta.mixture import MixtureConfig
    from lmrepro.mta.model import MtaClassifier

    mta = params["mta"]
    spec, note = mta["backbone"], ""
    try:
        resolve_backbone(spec)
    except LmreproError as err:
        note = f"{err}; fell back to {DEFAULT_BACKBONE}"
        spec = DEFAULT_BACKBONE
    encoder, _ = load_backbone(spec)
    section = dict(mta["mixture"])
    if section["blocks"] == CHOSEN:  # known only after rule mta_placement: check the costliest candidate
        section["blocks"] = max(int(k) for k in mta["placement"]["candidates"])
        note = "; ".join(filter(None, [note, f"mixture.blocks chosen: checked at the largest candidate, {section['blocks']}"]))
    mix = from_dict(MixtureConfig, section, "mta.mixture")
    tasks = {"a": 2, "b": 3}
    torch.manual_seed(0)
    model = MtaClassifier(encoder, tasks, mix, "mixture").to(device).train()
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith(("embeddings", "layers")))
    batch, seq = int(mta["stage1"]["batch_size"]), int(mta["data"]["max_len"])
    vocab = encoder.config.vocab_size
    ids = torch.randint(1000, vocab, (batch, seq), device=device)
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    labels = torch.randint(0, 2, (batch,), device=device)
    sec, total, trainable = time_training(
        model, lambda: torch.nn.functional.cross_entropy(model(ids, mask, types, "a").float(), labels),
        float(mta["stage1"]["lr"]), device, amp, steps)
    cfg = encoder.config
    return CheckResult("mta", f"{cfg.model_type} {cfg.num_hidden_layers} x {cfg.hidden_size} + MTA in top {mix.blocks}",
                       total, trainable, f"{batch} x {seq} tokens", sec, batch / sec, "examples/s",
                       peak_mb(device), note)


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default=DEFAULT_BACKBONE)
    ap.add_argument("--table", type=Path, default=Path("data/nlu/tasks.parquet"))
    ap.add_argument("--raw", type=Path, default=None,
                    help="raw-data mirror (default: lmrepro.paths.data_mirror)")
    ap.add_argument("--tasks", nargs="+", default=["sst2", "msrp"])
    ap.add_argument("--n", type=int, default=256, help="training examples per task")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    table = _table(args.table, args.raw or data_mirror())
    tasks = tuple(t for t in args.tasks if t in set(table["task"]))
    encoder, tokenizer = load_backbone(args.backbone)
    examples = select_examples(table, DataConfig(tasks=tasks, n_train=args.n, n_test=1, n_valid=1, max_len=args.max_len))
    encoded = encode(examples, tokenizer, args.max_len)
    data = Task.from_examples(examples)
    mix = MixtureConfig()
    cfg = TrainConfig(epochs=args.epochs, batch_size=32, lr=1e-3)

    start = time.perf_counter()
    feats = compute_features(MtaClassifier(encoder, data.n_labels, mix, "none"), encoded, key="bench")
    build = time.perf_counter() - start

    seconds, models = {}, {}
    for name, inputs in (("naive", Inputs(encoded)), ("cached", Inputs(encoded, feats))):
        torch.manual_seed(0)
        model = MtaClassifier(copy.deepcopy(encoder), data.n_labels, mix, "mixture")
        schedule = balanced_schedule(data.rows("train"), cfg, np.random.default_rng(0))
        log = train(model, inputs, data.labels, schedule, names_with(model, "adapters.", "heads."), cfg)
        seconds[name], models[name] = log.seconds / args.epochs, model

    all_rows = np.arange(len(encoded))
    diffs, param_diff = [], 0.0
    with torch.no_grad():
        for task in data.n_labels:
            a = Inputs(encoded).logits(models["cached"], all_rows, task)
            b = Inputs(encoded, feats).logits(models["cached"], all_rows, task)
            diffs.append(float((a - b).abs().max()))
        pa, pb = dict(models["naive"].named_parameters()), dict(models["cached"].named_parameters())
        param_diff = max(float((pa[n] - pb[n]).abs().max()) for n in pa)

    n_ex = sum(len(r) for r in data.rows("train").values())
    print(f"backbone {args.backbone}: {len(encoder.encoder.layer)} blocks, adapters in the top {mix.blocks}; "
          f"tasks {list(tasks)}, {n_ex} training examples, max_len {args.max_len}, threads {args.threads}")
    print(f"naive  epoch (full forward every step): {seconds['naive']:.2f} s")
    print(f"cached epoch (top block(s) on cached features): {seconds['cached']:.2f} s")
    print(f"speed ratio naive/cached per epoch: {seconds['naive'] / seconds['cached']:.2f}x (target >= 3x)")
    print(f"one-time cache build: {build:.2f} s; ratio over {args.epochs} epochs incl. build: "
          f"{seconds['naive'] * args.epochs / (seconds['cached'] * args.epochs + build):.2f}x")
    print(f"max |logit diff| cached vs uncached (same model, all {len(encoded)} examples): {max(diffs):.2e}")
    print(f"max |param diff| after training naive vs cached (same seed and batches): {param_diff:.2e}")
    return {"naive": seconds["naive"], "cached": seconds["cached"], "build": build, "logit_diff": max(diffs)}


def _ft_rows(n: int, tasks: tuple[str, ...], max_len: int, threads: int, backbone: str, table: Path):
    """The full fine-tuning benchmarks' rows: ``n`` training rows of each available task,
    tokenized; returns (tasks, encoder, encoded, data)."""
    torch.set_num_threads(threads)
    frame = _table(table, data_mirror())
    tasks = tuple(t for t in tasks if t in set(frame["task"]))
    encoder, tokenizer = load_backbone(backbone)
    examples = select_examples(frame, DataConfig(tasks=tasks, n_train=n, n_test=1, n_valid=1, max_len=max_len))
    return tasks, encoder, encode(examples, tokenizer, max_len), Task.from_examples(examples)


def grouping(n: int = 256, tasks: tuple[str, ...] = ("sst2", "cola", "trec", "msrp"), max_len: int = 48,
             groups: int = 32, threads: int = 1, backbone: str = DEFAULT_BACKBONE,
             table: Path = Path("data/nlu/tasks.parquet")) -> dict[str, float]:
    """Full fine-tuning (every weight, the multi_ft recipe) for one balanced epoch on plain
    shuffled batches vs length-grouped batches (TrainConfig.length_groups), same rows, seed
    and batch size 16. Returns the training seconds of each and the padded tokens each
    schedule feeds."""
    tasks, encoder, encoded, data = _ft_rows(n, tasks, max_len, threads, backbone, table)
    lengths = encoded.lengths()
    seconds, padded = {}, {}
    for name, g in (("plain", 0), ("grouped", groups)):
        cfg = TrainConfig(epochs=1, batch_size=16, lr=5e-5, length_groups=g)
        torch.manual_seed(0)
        model = MtaClassifier(copy.deepcopy(encoder), data.n_labels, MixtureConfig(), "none")
        schedule = balanced_schedule(data.rows("train"), cfg, np.random.default_rng(0), lengths)
        padded[name] = sum(int(lengths[b].max()) * len(b) for _, b in schedule)
        log = train(model, Inputs(encoded), data.labels, schedule, [k for k, _ in model.named_parameters()], cfg)
        seconds[name] = log.seconds
    print(f"full fine-tuning epoch, {len(tasks)} tasks x {n} rows, batch 16, threads {threads}: "
          f"plain {seconds['plain']:.1f} s, length-grouped ({groups} batches/group) {seconds['grouped']:.1f} s, "
          f"ratio {seconds['plain'] / seconds['grouped']:.2f}x; padded tokens {padded['plain']} vs {padded['grouped']} "
          f"(real {int(sum(lengths[r].sum() for r in data.rows('train').values()))})")
    return {"plain": seconds["plain"], "grouped": seconds["grouped"],
            "padded_plain": padded["plain"], "padded_grouped": padded["grouped"]}


def precision(n: int = 256, tasks: tuple[str, ...] = ("sst2", "cola", "trec", "msrp"), max_len: int = 48,
              threads: int = 1, rounds: int = 2, backbone: str = DEFAULT_BACKBONE,
              table: Path = Path("data/nlu/tasks.parquet")) -> dict[str, float]:
    """Full fine-tuning (the multi_ft recipe, length-grouped batches of 16) for one balanced
    epoch in fp32 vs under bf16 autocast on CPU (mta.precision), interleaved ``rounds`` times
    on the same rows, seed and batches; the fastest round of each counts. Also the largest
    |logit| difference of the two trained models' predictions over the training rows and the
    share of rows whose argmax differs, so the speed-up is read next to what it changes."""
    tasks, encoder, encoded, data = _ft_rows(n, tasks, max_len, threads, backbone, table)
    cfg = TrainConfig(epochs=1, batch_size=16, lr=5e-5, length_groups=32)
    seconds: dict[str, float] = {"fp32": float("inf"), "bf16": float("inf")}
    models = {}
    for _ in range(rounds):
        for name in ("fp32", "bf16"):
            torch.manual_seed(0)
            model = MtaClassifier(copy.deepcopy(encoder), data.n_labels, MixtureConfig(), "none")
            schedule = balanced_schedule(data.rows("train"), cfg, np.random.default_rng(0), encoded.lengths())
            log = train(model, Inputs(encoded, cpu_bf16=name == "bf16"), data.labels, schedule,
                        [k for k, _ in model.named_parameters()], cfg)
            seconds[name], models[name] = min(seconds[name], log.seconds), model
    diff, flips, total = 0.0, 0, 0
    with torch.no_grad():
        for task, rows in data.rows("train").items():
            a = Inputs(encoded).logits(models["fp32"], rows, task)
            b = Inputs(encoded, cpu_bf16=True).logits(models["bf16"], rows, task)
            diff = max(diff, float((a - b).abs().max()))
            flips += int((a.argmax(-1) != b.argmax(-1)).sum())
            total += len(rows)
    print(f"full fine-tuning epoch, {len(tasks)} tasks x {n} rows, batch 16, threads {threads}, best of {rounds}: "
          f"fp32 {seconds['fp32']:.1f} s, bf16 autocast {seconds['bf16']:.1f} s, ratio "
          f"{seconds['fp32'] / seconds['bf16']:.2f}x; trained models differ by max |logit| {diff:.2f}, "
          f"argmax on {flips} of {total} training rows")
    return {"fp32": seconds["fp32"], "bf16": seconds["bf16"], "logit_diff": diff, "flip_share": flips / total}


def placement_cost(n: int = 128, tasks: tuple[str, ...] = ("sst2", "cola", "trec", "msrp"), max_len: int = 48,
                   candidates: tuple[int, ...] = (1, 2, 3), threads: int = 1, backbone: str = DEFAULT_BACKBONE,
                   table: Path = Path("data/nlu/tasks.parquet")) -> dict[int, float]:
    """Seconds of one stage-1 adapter epoch (own-adapter routing, batch 16, length-grouped,
    the track's precision on this CPU) on a feature cache split below the top k blocks, for
    each k of ``candidates``, same rows, seed and batches. Why: what the adapters in more
    blocks cost per step is what keeps the default comparison at the top block
    (params.yaml mta.placement); each adapted block above the first runs forward and
    backward every step, the top one alone runs on cached outputs."""
    from lmrepro.mta.precision import resolve

    _, encoder, encoded, data = _ft_rows(n, tasks, max_len, threads, backbone, table)
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-3, length_groups=32)
    bf16 = resolve("auto") == "bf16"
    seconds = {}
    for k in candidates:
        mix = MixtureConfig(blocks=k)
        feats = compute_features(MtaClassifier(encoder, data.n_labels, mix, "none"), encoded, key=f"bench-top{k}")
        torch.manual_seed(0)
        model = MtaClassifier(copy.deepcopy(encoder), data.n_labels, mix, "mixture")
        model.set_routing("own")
        schedule = balanced_schedule(data.rows("train"), cfg, np.random.default_rng(0), encoded.lengths())
        log = train(model, Inputs(encoded, feats, cpu_bf16=bf16), data.labels, schedule,
                    names_with(model, "adapters.", "heads."), cfg)
        seconds[k] = log.seconds
    steps = len(schedule)
    print(f"stage-1 adapter epoch, {len(data.n_labels)} tasks x {n} rows, {steps} steps of 16, threads {threads}, "
          f"{'bf16' if bf16 else 'fp32'}: " + ", ".join(f"top {k} {s:.1f} s ({1000 * s / steps:.1f} ms/step)"
                                                       for k, s in seconds.items()))
    return seconds


def run(quick: bool = False) -> list:
    """For `make bench`: cached vs naive epoch time (target >= 3x) and the logit check;
    full fine-tuning on length-grouped vs plain batches (target >= 1.3x) and under bf16
    autocast vs fp32 (target >= 1.5x; only on a CPU with bf16 instructions, where auto uses it)."""
    from lmrepro.measure import BenchResult

    r = main(["--n", "64" if quick else "256", "--threads", "1"])
    g = grouping(n=64 if quick else 256)
    cost = placement_cost(n=32 if quick else 128)
    rows = [
        *(BenchResult("mta", f"stage-1 adapter epoch: adapters in the top block vs the top {k} (cost of placement)",
                      cost[1], cost[k], "s", None, note="informational: why the default comparison stays at the "
                      "top block (params.yaml mta.placement)") for k in sorted(cost) if k != 1),
        BenchResult("mta", "adapter-training epoch: cached lower blocks vs full forward", r["cached"], r["naive"], "s", 3.0,
                    note=f"max |logit diff| {r['logit_diff']:.1e}; one-time cache build {r['build']:.1f} s"),
        BenchResult("mta", "full fine-tuning epoch: length-grouped vs plain shuffled batches", g["grouped"], g["plain"],
                    "s", 1.3, note=f"padded tokens {g['padded_grouped']} vs {g['padded_plain']}"),
    ]
    if not native_bf16():  # emulated bf16 would take ~18x the fp32 time and is never used here (precision.py)
        print(f"mta: bf16-vs-fp32 row skipped: this CPU ({cpu_capability()}) has no bf16 instructions, "
              "so mta.precision auto trains in fp32 here")
        return rows
    p = precision(n=64 if quick else 256, rounds=1 if quick else 2)
    return rows + [
        BenchResult("mta", "full fine-tuning epoch: bf16 autocast vs fp32 on CPU (mta.precision)", p["bf16"], p["fp32"],
                    "s", 1.5, note=f"trained models: max |logit diff| {p['logit_diff']:.2f}, "
                                   f"argmax differs on {100 * p['flip_share']:.1f}% of training rows"),
    ]


if __name__ == "__main__":
    main()
