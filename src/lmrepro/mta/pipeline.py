"""What the mta_* stages share: reading the feature stage's outputs back, saving stage-1
adapters, and writing predictions and run records. Kept here (not in the stage files) so
that it is importable and tested.

Files (all written atomically):
  data/mta/examples.parquet      the subsample (schemas.Examples); row i = example i
  data/mta/tokens.safetensors    its token store (data.Encoded)
  data/mta/features.safetensors  frozen-backbone cache (features.FeatureCache), keyed
  models/mta/stage1/seed<S>.safetensors   stage-1 task adapters + heads per seed
  data/mta/preds/<method>.parquet         test predictions, all seeds (schemas.Predictions)
  data/mta/runs/<method>.json             per seed: trainable/total params, steps, final valid score
  reports/mta/timing/<stage>.json         wall times (per seed and stage), the only non-reproducible file

Why wall times live apart: every other output is a pure function of commit, params and
thread count, so two runs can be compared byte for byte (tests/mta/test_mta_stages_smoke.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from lmrepro import io
from lmrepro.config import from_dict
from lmrepro.data.schemas import NluExamples
from lmrepro.errors import LmreproError
from lmrepro.mta import placement, precision
from lmrepro.mta.backbone import backbone_digest, load_backbone, resolve_backbone
from lmrepro.mta.data import DataConfig, Encoded, encode, select_examples
from lmrepro.mta.features import FeatureCache, cache_key, load_features
from lmrepro.mta.methods import MethodResult, Task
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.schemas import Examples, Predictions
from lmrepro.mta.selection import SearchConfig, candidates, chosen_lrs
from lmrepro.mta.train import Inputs


@dataclass
class Loaded:
    encoder: object
    tokenizer: object
    examples: pd.DataFrame
    encoded: Encoded
    data: Task
    backbone_digest: str


def save_tokens(encoded: Encoded, path: Path) -> None:
    with io.atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in encoded.tensors().items()}, str(tmp),
                  metadata={"digest": encoded.digest()})


def load_inputs(backbone: str, examples_path: Path, tokens_path: Path, n_train: int | None = None) -> Loaded:
    """Examples, tokens and backbone; methods train on each task's ``n_train`` rows of lowest
    rank (``Task.from_examples``; None = every stored training row)."""
    examples = io.read_table(examples_path, Examples)
    try:
        encoded = Encoded.from_tensors(load_file(str(tokens_path)))
    except Exception as err:
        raise LmreproError(f"{tokens_path}: not a readable token store: {err}") from err
    if len(encoded) != len(examples):
        raise LmreproError(f"{tokens_path}: {len(encoded)} examples but {examples_path} has {len(examples)}")
    encoder, tokenizer = load_backbone(backbone)
    data = Task.from_examples(examples, n_train)
    return Loaded(encoder, tokenizer, examples, encoded, data, backbone_digest(resolve_backbone(backbone)))


def blocks_used(ctx) -> int:
    """mta.mixture.blocks resolved: a number as given, or ``chosen`` = the placement the
    mta_placement stage chose on validation, read from the record its rule passes as
    ``--placement`` (placement.chosen_blocks)."""
    blocks = ctx.section("mta.mixture.blocks")
    if blocks != placement.CHOSEN:
        return int(blocks)
    path = getattr(ctx.args, "placement", None)
    if path is None:
        raise LmreproError(f"mta.mixture.blocks: {placement.CHOSEN} needs the placement record: pass --placement "
                           "data/mta/placement.json (written by rule mta_placement)")
    return placement.chosen_blocks(io.read_json(path), str(path))


def subsample(ctx, tasks_table: Path) -> tuple[pd.DataFrame, object, Encoded]:
    """mta.data's subsample of the tasks table, the backbone and its tokens: (examples,
    encoder, encoded). The one place the rows are chosen, shared by mta_features (which
    stores them for every later stage) and mta_placement (which runs before it)."""
    cfg = ctx.config(DataConfig, "mta.data")
    ctx.log_input(tasks_table, context="source")
    examples = select_examples(io.read_table(tasks_table, NluExamples), cfg, where=str(tasks_table))
    encoder, tokenizer = load_backbone(ctx.section("mta.backbone"))
    return examples, encoder, encode(examples, tokenizer, cfg.max_len)


def mixture(ctx) -> MixtureConfig:
    """mta.mixture as a MixtureConfig with ``blocks`` resolved (blocks_used)."""
    section = dict(ctx.section("mta.mixture"))
    section["blocks"] = blocks_used(ctx)
    return from_dict(MixtureConfig, section, where="mta.mixture")


def features_for(loaded: Loaded, path: Path, blocks: int) -> FeatureCache:
    """The feature cache, checked against this backbone, these tokens and this split point."""
    first = len(loaded.encoder.encoder.layer) - blocks
    return load_features(path, cache_key(loaded.backbone_digest, loaded.encoded.digest(), first))


def cpu_bf16(ctx) -> bool:
    """Whether this stage trains under bf16 autocast on CPU (mta.precision, resolved for this
    CPU by precision.resolve); the resolved path is tagged on the stage's MLflow run."""
    resolved = precision.resolve(ctx.section("mta.precision"))
    ctx.set_tags({"mta.precision": resolved, "cpu.capability": precision.cpu_capability(),
                  "cpu.native_bf16": precision.native_bf16()})
    return resolved == "bf16"


def precision_of(inputs: Inputs) -> str:
    """The float path a stage's inputs run in, for its run records: bf16 (CPU autocast or
    CUDA amp) or fp32."""
    return "bf16" if inputs.cpu_bf16 or (inputs.amp and inputs.device.type == "cuda") else "fp32"


def stage_inputs(ctx, loaded: Loaded, features: FeatureCache | None) -> Inputs:
    """The model inputs of a training stage: its device, CUDA amp and the track's CPU precision."""
    return Inputs(loaded.encoded, features, device=ctx.device, amp=ctx.amp, cpu_bf16=cpu_bf16(ctx))


def save_adapters(model: MtaClassifier, path: Path) -> None:
    """Stage-1 adapter/head weights and the task order they were trained for.

    One metadata key only: safetensors serialises ``__metadata__`` from a Rust HashMap, so
    two keys come out in a per-process random order and two identical runs would write
    different bytes (the seed is in the file name)."""
    state = {n: p.detach().cpu().contiguous().clone() for n, p in model.named_parameters()
             if n in set(model.adapter_param_names())}
    with io.atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"tasks": ",".join(model.task_names)})


def load_adapters(model: MtaClassifier, path: Path) -> None:
    """Load stage-1 adapter/head weights into ``model``; names and shapes must match."""
    if not path.is_file():
        raise LmreproError(f"{path}: stage-1 adapters not found (run mta_stage1)")
    with safe_open(str(path), framework="pt") as handle:
        tasks = (handle.metadata() or {}).get("tasks", "")
    if tasks.split(",") != model.task_names:
        raise LmreproError(f"{path}: trained for tasks {tasks!r}, expected {model.task_names}")
    state = load_file(str(path))
    own = dict(model.named_parameters())
    bad = [n for n, t in state.items() if n not in own or own[n].shape != t.shape]
    if bad:
        raise LmreproError(f"{path}: does not fit the model (e.g. {bad[:3]}); mixture params changed?")
    model.load_state_dict(state, strict=False)


def predictions(method: str, seed: int, result: MethodResult, data: Task) -> pd.DataFrame:
    parts = [pd.DataFrame({"method": method, "seed": seed, "task": t, "row": rows,
                           "label": data.labels[rows], "pred": result.preds[t]})
             for t, rows in data.rows("test").items()]
    return pd.concat(parts, ignore_index=True)


def write_predictions(frames: list[pd.DataFrame], path: Path) -> None:
    io.write_table(pd.concat(frames, ignore_index=True), path, Predictions)


def run_record(seed: int, result: MethodResult, stage: str, extra_stages: list[dict] | None = None) -> dict:
    """One seed's cost and outcome, all reproducible: stages (name, trainable, steps),
    inference parameters and the final validation score. Wall times go to ``Timing``."""
    stages = list(extra_stages or [])
    stages.append({"name": stage, "trainable": int(result.trainable),
                   "steps": int(sum(log.steps for log in result.logs))})
    return {"seed": seed, "total": int(result.total), "valid_score": float(result.valid_score), "stages": stages,
            "choices": [c.record() for c in result.choices]}


def seeds_with_search(ctx, base_lr: float, units: list[str], train_one):
    """Yield (seed, result) for every seed of ``mta.seeds``: ``train_one(seed, lrs)`` searches
    the ``mta.search`` grid on the first seed and trains the later seeds at the rates it chose
    (selection.py); every choice goes to MLflow (``select/*``, step = seed)."""
    search = ctx.config(SearchConfig, "mta.search")
    chosen = None
    for seed in ctx.section("mta.seeds"):
        result = train_one(seed, candidates(base_lr, search, units, chosen))
        if chosen is None:
            chosen = chosen_lrs(result.choices)
        log_choices(ctx, seed, result)
        yield seed, result


def log_choices(ctx, seed: int, result: MethodResult) -> None:
    metrics = {}
    for c in result.choices:
        metrics[f"select/lr/{c.unit}"] = c.lr
        metrics[f"select/epoch/{c.unit}"] = c.epoch
        metrics.update({f"select/valid/{c.unit}/lr{lr}": v for lr, v in c.candidates.items()})
        ctx.log.info("seed %d %s: lr %g, epoch %d of %d, valid %.4f (candidates %s)", seed, c.unit, c.lr, c.epoch,
                     c.epochs, c.valid, c.candidates)
    ctx.log_metrics(metrics, step=seed)


@dataclass
class Timing:
    """Wall times of one stage execution: per (seed, training stage) plus the whole stage.

    Written to reports/mta/timing/<stage>.json; machine-dependent by nature, so kept out of
    every other output. ``threads`` and ``device`` say what the seconds were measured on.
    """

    stage: str
    threads: int
    device: str
    runs: list[dict] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, seed: int, name: str, seconds: float) -> None:
        self.runs.append({"seed": int(seed), "name": name, "seconds": float(seconds)})

    def write(self, path: Path, **extra: float) -> None:
        io.write_json({"stage": self.stage, "threads": self.threads, "device": self.device,
                       "seconds": time.perf_counter() - self.started, **extra, "runs": self.runs}, path)


def stage_of(records: list[dict], seed: int, name: str) -> dict:
    for rec in records:
        if rec["seed"] == seed:
            for st in rec["stages"]:
                if st["name"] == name:
                    return st
    raise LmreproError(f"run record of seed {seed} lacks stage {name!r}")


def seed_log(ctx, seed: int):
    """A metric logger for one seed's curves: ``train/loss/sst2`` -> ``train/loss/sst2/seed2022``."""
    return lambda metrics, step: ctx.log_metrics({f"{k}/seed{seed}": v for k, v in metrics.items()}, step)


def log_training_inputs(ctx, *paths: Path) -> None:
    """Record the inputs a training stage reads (MLflow dataset inputs, with digests)."""
    for path in paths:
        ctx.log_input(path, context="training")
