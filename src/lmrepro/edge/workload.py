"""What one inference of a multi-task encoder costs in parameters, weight reads and MACs.

A workload is a small table, one row per parameter *role*:

- ``embedding``  word/position/type embeddings (+ LayerNorm); only ``seq_len`` rows are read.
- ``projection`` ALBERT's 128 -> 768 embedding projection (absent in BERT-style models).
- ``layers``     the transformer layer weights. ALBERT shares one set across all 12 layer
                 applications, so it is stored once but read 12 times per inference.
- ``pooler``     the [CLS] pooler.
- ``adapters``   Houlsby bottleneck adapters (2*h*m + h + m params each, two per layer).
- ``head``       the task classifier.

``placement`` says where a design may put the role: "backbone" (shared, read-only; eNVM in
the heterogeneous design) or "task" (task-specific; SRAM). ``per_task`` rows hold one task's
parameters and are stored once per task. ``in_plain`` marks what a plainly fine-tuned model
(no adapters, one full copy per task) contains: the reload-from-DRAM baseline.

Reads assume a weight-stationary accelerator: each weight is read once per layer
application per inference (the ``seq_len`` tokens reuse it in the PE array); activations
live in an SRAM buffer that every design has (not part of the comparison).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lmrepro.errors import LmreproError

ROLES = ("embedding", "projection", "layers", "pooler", "adapters", "head")


@dataclass(frozen=True)
class EncoderShape:
    """The config numbers that fix the parameter and MAC counts (ALBERT or BERT style)."""

    vocab_size: int
    embedding_size: int  # ALBERT factorizes embeddings (128); BERT: == hidden_size
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int  # layer applications per inference
    num_hidden_groups: int  # distinct weight sets (ALBERT: 1, BERT: num_hidden_layers)
    max_position_embeddings: int
    type_vocab_size: int
    pooler: bool = True


@dataclass(frozen=True)
class WorkloadConfig:
    """Inference settings of the workload."""

    seq_len: int = 128  # the paper's sequence length (~11.2 GMAC for ALBERT-base-v2)
    weight_bits: int = 8  # 8-bit weights, as the paper's quantized backbone
    bottleneck: int = 64  # Houlsby adapter bottleneck m (adapter size knob)
    adapters_per_layer: int = 2  # Houlsby: after attention and after the FFN
    num_labels: int = 2  # binary GLUE-style head
    # adapters sit inside each distinct (ALBERT: the one shared) layer, so the 12 applications
    # reuse them (the paper's data reuse); False gives each application its own pair
    shared_adapters: bool = True

    def __post_init__(self):
        for name in ("seq_len", "weight_bits", "adapters_per_layer", "num_labels"):
            if getattr(self, name) < 1:
                raise LmreproError(f"edge.workload.{name} must be >= 1, got {getattr(self, name)}")
        if self.bottleneck < 0:
            raise LmreproError(f"edge.workload.bottleneck must be >= 0, got {self.bottleneck}")


def shape_from_config(config) -> EncoderShape:
    """An HF AlbertConfig / BertConfig (or its dict) -> EncoderShape."""
    get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
    try:
        hidden = int(get("hidden_size"))
        layers = int(get("num_hidden_layers"))
        model_type = get("model_type", "bert")
        groups = int(get("num_hidden_groups", 1)) if model_type == "albert" else layers
        return EncoderShape(
            vocab_size=int(get("vocab_size")),
            embedding_size=int(get("embedding_size", hidden) or hidden),
            hidden_size=hidden,
            intermediate_size=int(get("intermediate_size")),
            num_hidden_layers=layers,
            num_hidden_groups=groups,
            max_position_embeddings=int(get("max_position_embeddings")),
            type_vocab_size=int(get("type_vocab_size")),
        )
    except (TypeError, ValueError) as exc:
        raise LmreproError(f"model config lacks an encoder field: {exc}") from exc


def houlsby_adapter_params(hidden: int, bottleneck):
    """Down (h*m + m) and up (m*h + h) projections: 2*h*m + h + m (papers.md)."""
    return 2 * hidden * bottleneck + hidden + bottleneck


def layer_params(s: EncoderShape) -> int:
    """One transformer layer: Q, K, V, O (h*h + h each), FFN in/out, two LayerNorms."""
    h, f = s.hidden_size, s.intermediate_size
    return 4 * (h * h + h) + (h * f + f) + (f * h + h) + 2 * 2 * h


def layer_macs(s: EncoderShape, seq_len: int) -> int:
    """Per layer application: projections 4*s*h^2, scores + context 2*s^2*h, FFN 2*s*h*f."""
    h, f, n = s.hidden_size, s.intermediate_size, seq_len
    return 4 * n * h * h + 2 * n * n * h + 2 * n * h * f


def encoder_workload(name: str, s: EncoderShape, cfg: WorkloadConfig) -> pd.DataFrame:
    """The workload table of an encoder with Houlsby adapters, from its config alone."""
    if cfg.num_labels < 1:
        raise LmreproError("num_labels must be >= 1")
    e, h, n = s.embedding_size, s.hidden_size, cfg.seq_len
    if n > s.max_position_embeddings:
        raise LmreproError(f"edge.workload.seq_len={n} exceeds max_position_embeddings={s.max_position_embeddings}")
    emb = (s.vocab_size + s.max_position_embeddings + s.type_vocab_size) * e + 2 * e
    per_app = s.num_hidden_layers // s.num_hidden_groups  # applications of each weight set
    if per_app * s.num_hidden_groups != s.num_hidden_layers:
        raise LmreproError(f"{name}: num_hidden_layers must be a multiple of num_hidden_groups")
    adapter_sets = s.num_hidden_groups if cfg.shared_adapters else s.num_hidden_layers
    n_adapter = cfg.adapters_per_layer * adapter_sets * houlsby_adapter_params(h, cfg.bottleneck)
    adapter_macs = cfg.adapters_per_layer * s.num_hidden_layers * 2 * n * h * cfg.bottleneck
    adapter_reads = n_adapter * (s.num_hidden_layers // adapter_sets)
    head = h * cfg.num_labels + cfg.num_labels
    has_proj = e != h
    rows = [
        # role, placement, per_task, params, params read / inference, MACs / inference, in_plain
        ("embedding", "backbone", False, emb, 3 * n * e + 2 * e, 0, True),
        ("projection", "backbone", False, (e * h + h) if has_proj else 0, (e * h + h) if has_proj else 0,
         n * e * h if has_proj else 0, True),
        ("layers", "backbone", False, s.num_hidden_groups * layer_params(s),
         s.num_hidden_layers * layer_params(s), s.num_hidden_layers * layer_macs(s, n), True),
        ("pooler", "backbone", False, (h * h + h) if s.pooler else 0, (h * h + h) if s.pooler else 0,
         h * h if s.pooler else 0, True),
        ("adapters", "task", True, n_adapter, adapter_reads, adapter_macs, False),
        ("head", "task", True, head, head, h * cfg.num_labels, True),
    ]
    return _table(name, rows, cfg.weight_bits, cfg)


def _table(name, rows, weight_bits, cfg) -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["role", "placement", "per_task", "params", "read_params", "macs", "in_plain"]
    )
    df.insert(0, "model", name)
    df["bytes"] = df["params"] * weight_bits / 8.0
    df["read_bytes"] = df["read_params"] * weight_bits / 8.0
    df["weight_bits"] = weight_bits
    df["seq_len"] = cfg.seq_len
    df["bottleneck"] = cfg.bottleneck
    return df


def totals(wl: pd.DataFrame) -> dict:
    """Headline numbers of one model's workload (one task)."""
    return {
        "params": int(wl["params"].sum()),
        "backbone_params": int(wl.loc[wl.placement == "backbone", "params"].sum()),
        "task_params": int(wl.loc[wl.placement == "task", "params"].sum()),
        "macs": int(wl["macs"].sum()),
    }


def _is_head(name: str) -> bool:
    return name.startswith("heads.") or ".heads." in name


def bundle_workload(name: str, bundle, cfg: WorkloadConfig) -> pd.DataFrame:
    """The workload of a trained backbone-plus-adapters bundle (lmrepro.mta.export.MtaBundle).

    Counts come from the bundle's own parameters: backbone_param_names() split into
    embeddings and layers by name; adapter_param_names() into heads ("heads.*", one per
    task) and adapters (everything else: task and shared adapters, gates). ALTER mixes all
    adapters densely (softmax gate over all), so every inference reads all of them and they
    are stored once, not per task; a task reads only its own head (the stored heads divided
    by the number of tasks: their mean). Backbone MACs come from the backbone config,
    adapter and head MACs from their weight matrices (gates are a softmax, not a matmul).
    """
    model = bundle.model
    named = dict(model.named_parameters())
    backbone = list(bundle.backbone_param_names())
    task_side = list(bundle.adapter_param_names())
    unknown = [k for k in [*backbone, *task_side] if k not in named]
    if unknown:
        raise LmreproError(f"bundle names parameters the model lacks: {unknown[:5]}")
    overlap = set(backbone) & set(task_side)
    if overlap:
        raise LmreproError(f"bundle lists parameters as both backbone and adapter: {sorted(overlap)[:5]}")
    rest = sorted(set(named) - set(backbone) - set(task_side))
    if rest:
        raise LmreproError(f"bundle parameters neither backbone nor adapter: {rest[:5]}")
    heads = [k for k in task_side if _is_head(k)]
    adapters = [k for k in task_side if not _is_head(k)]
    n_tasks = len(bundle.tasks)
    if n_tasks < 1:
        raise LmreproError("bundle has no tasks")
    config = getattr(model, "encoder_config", None) or getattr(model, "config", None)
    if config is None and isinstance(getattr(bundle, "config", None), dict):
        config = bundle.config.get("backbone_config")
    if config is None:
        raise LmreproError("bundle has no backbone config to derive the backbone MACs from")
    s = shape_from_config(config)
    n = cfg.seq_len

    def count(names, matrices_only=False):
        return int(sum(named[k].numel() for k in names if not matrices_only or named[k].dim() == 2))

    emb_names = [k for k in backbone if "embeddings" in k]
    pool_names = [k for k in backbone if "pooler" in k]
    layer_names = [k for k in backbone if k not in set(emb_names) | set(pool_names)]
    proj_names = [k for k in layer_names if "embedding_hidden_mapping_in" in k]
    layer_names = [k for k in layer_names if k not in set(proj_names)]
    per_app = s.num_hidden_layers // s.num_hidden_groups
    emb_reads = 3 * n * s.embedding_size + 2 * s.embedding_size
    adapter_mats = [k for k in adapters if "gate" not in k]
    rows = [
        ("embedding", "backbone", False, count(emb_names), min(emb_reads, count(emb_names)), 0, True),
        ("projection", "backbone", False, count(proj_names), count(proj_names), n * count(proj_names, True), True),
        ("layers", "backbone", False, count(layer_names), per_app * count(layer_names),
         s.num_hidden_layers * layer_macs(s, n), True),
        ("pooler", "backbone", False, count(pool_names), count(pool_names), count(pool_names, True), True),
        ("adapters", "task", False, count(adapters), count(adapters), n * count(adapter_mats, True), False),
        ("head", "task", True, count(heads) / n_tasks, count(heads) / n_tasks, count(heads, True) / n_tasks, True),
    ]
    return _table(name, rows, cfg.weight_bits, cfg)
