"""The trained backbone-plus-adapters bundle: the contract the edge track reads.

A bundle folder holds ``model.safetensors`` (every weight of :class:`MtaClassifier`:
backbone, adapters, gates, heads), ``config.json`` (backbone config, tasks and label
counts, adapter config, routing, max_len) and ``tokenizer/``. It is self-contained: loading
needs neither the original backbone folder nor the network. Stable API:

    bundle = load_bundle("models/mta/mta")
    bundle.model                    # torch nn.Module (eval mode)
    bundle.tokenizer, bundle.tasks  # tokenizer, list of task names
    bundle.backbone_param_names()   # shared frozen backbone weights
    bundle.adapter_param_names()    # task-specific: adapters, gates, heads
    bundle.predict(df)              # np.ndarray of labels; df has task, text_a[, text_b]
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from lmrepro.errors import LmreproError
from lmrepro.io import atomic_path
from lmrepro.mta.data import encode
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.train import Inputs, predict

FORMAT = "lmrepro.mta.bundle/1"


@dataclass
class MtaBundle:
    model: MtaClassifier
    tokenizer: object
    tasks: list[str]
    max_len: int
    config: dict

    def backbone_param_names(self) -> list[str]:
        return self.model.backbone_param_names()

    def adapter_param_names(self) -> list[str]:
        return self.model.adapter_param_names()

    def predict(self, df: pd.DataFrame, batch_size: int = 64) -> np.ndarray:
        """Predicted label per row of ``df`` (columns task, text_a and optionally text_b)."""
        for col in ("task", "text_a"):
            if col not in df.columns:
                raise LmreproError(f"MtaBundle.predict: input frame lacks column {col!r}")
        frame = df.reset_index(drop=True)
        if "text_b" not in frame.columns:
            frame = frame.assign(text_b=None)
        unknown = sorted(set(frame["task"]) - set(self.tasks))
        if unknown:
            raise LmreproError(f"MtaBundle.predict: unknown task(s) {unknown}; bundle has {self.tasks}")
        inputs = Inputs(encode(frame, self.tokenizer, self.max_len))
        out = np.zeros(len(frame), dtype=np.int64)
        for task, group in frame.groupby("task", sort=False):
            rows = group.index.to_numpy()
            out[rows] = predict(self.model, inputs, rows, task, batch_size)
        return out


def save_bundle(path_dir: str | os.PathLike, model: MtaClassifier, tokenizer, max_len: int,
                routing: str = "gate", extra: dict | None = None) -> None:
    """Write the bundle folder atomically (all files appear together or not at all)."""
    config = {
        "format": FORMAT,
        "backbone_config": model.encoder_config.to_dict(),
        "tasks": [[t, int(n)] for t, n in model.n_labels.items()],  # a list: order = gate rows
        "kind": model.kind,
        "mixture": asdict(model.cfg),
        "routing": routing,
        "max_len": int(max_len),
        "extra": extra or {},
    }
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(path_dir) as tmp:
        tmp.mkdir(parents=True)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        tokenizer.save_pretrained(str(tmp / "tokenizer"))


def load_bundle(path_dir: str | os.PathLike) -> MtaBundle:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = Path(path_dir)
    cfg_path, weights = folder / "config.json", folder / "model.safetensors"
    for p in (cfg_path, weights, folder / "tokenizer"):
        if not p.exists():
            raise LmreproError(f"{folder}: not an MTA bundle (missing {p.name})")
    config = json.loads(cfg_path.read_text())
    if config.get("format") != FORMAT:
        raise LmreproError(f"{cfg_path}: format {config.get('format')!r}, expected {FORMAT!r}")
    bb = dict(config["backbone_config"])
    encoder = AutoModel.from_config(AutoConfig.for_model(bb.pop("model_type"), **bb), attn_implementation="eager")
    tasks = {t: int(n) for t, n in config["tasks"]}
    model = MtaClassifier(encoder, tasks, MixtureConfig(**config["mixture"]), config["kind"])
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as err:
        raise LmreproError(f"{weights}: weights do not match {cfg_path}: {err}") from err
    model.set_routing(config["routing"])
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"), local_files_only=True)
    return MtaBundle(model, tokenizer, list(tasks), int(config["max_len"]), config)
