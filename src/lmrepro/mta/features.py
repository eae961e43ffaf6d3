"""Cache of the frozen lower blocks' output (the input of the first adapted block).

Why: every adapter method freezes the embeddings and the lower blocks, so their output
is the same every epoch. Computing it once and training only the top block(s) makes an
epoch several times cheaper (``python -m lmrepro.mta.bench`` measures it).

The cache is ragged (one [len_i, H] slice per example, no padding) and keyed by the
backbone digest, the token digest and the split point; a cache whose key does not match
what the caller expects is refused instead of silently reused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from lmrepro.errors import LmreproError
from lmrepro.io import atomic_path
from lmrepro.mta.data import Encoded


def cache_key(backbone_digest: str, data_digest: str, first_adapted: int) -> str:
    payload = json.dumps({"backbone": backbone_digest, "data": data_digest, "split_at": first_adapted},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass
class FeatureCache:
    """Lower-block outputs for every example of an :class:`Encoded` store."""

    hidden: torch.Tensor  # [T, H] float32, examples concatenated
    offsets: np.ndarray  # [N + 1]
    key: str

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded (hidden [B, S_max, H], attention_mask [B, S_max])."""
        lens = np.diff(self.offsets)[rows]
        width = int(lens.max())
        h = self.hidden.new_zeros((len(rows), width, self.hidden.shape[1]))
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, (r, n) in enumerate(zip(rows, lens)):
            h[j, :n] = self.hidden[self.offsets[r]: self.offsets[r + 1]]
            mask[j, :n] = 1
        return h, mask

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            save_file({"hidden": self.hidden.contiguous(), "offsets": torch.from_numpy(self.offsets)},
                      str(tmp), metadata={"key": self.key})


def compute_features(model, encoded: Encoded, key: str, batch_size: int = 64, progress=None) -> FeatureCache:
    """Run ``model.lower`` once over all examples (length-sorted batches, no grad)."""
    order = np.argsort(encoded.lengths(), kind="stable")
    hidden_size = model.encoder_config.hidden_size
    out = torch.zeros((int(encoded.offsets[-1]), hidden_size), dtype=torch.float32)
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    model.eval()  # left in eval: callers share these backbone modules and need dropout off
    with torch.no_grad():
        for rows in (progress(batches, desc="lower blocks") if progress else batches):
            ids, mask, types = encoded.batch(rows)
            h = model.lower(ids, mask, types)  # [B, S, H]
            for j, r in enumerate(rows):
                n = int(encoded.offsets[r + 1] - encoded.offsets[r])
                out[encoded.offsets[r]: encoded.offsets[r + 1]] = h[j, :n]
    return FeatureCache(out, encoded.offsets.copy(), key)


def load_features(path: Path, expected_key: str) -> FeatureCache:
    """Load a cache written by :meth:`FeatureCache.save`; refuse a stale or foreign one."""
    path = Path(path)
    if not path.is_file():
        raise LmreproError(f"{path}: feature cache not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            key = (handle.metadata() or {}).get("key")
        tensors = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types on corrupt files
        raise LmreproError(f"{path}: not a readable safetensors feature cache: {err}") from err
    if key != expected_key:
        raise LmreproError(f"{path}: feature cache key {key!r} does not match the backbone and data "
                           f"({expected_key!r}); rerun the mta_features stage")
    return FeatureCache(tensors["hidden"], tensors["offsets"].numpy().astype(np.int64), key)


def cached_features(cache_dir: Path, model, encoded: Encoded, backbone_digest: str) -> FeatureCache:
    """Get ``<cache_dir>/<key>.safetensors``, computing and saving it on a miss."""
    key = cache_key(backbone_digest, encoded.digest(), model.first_adapted)
    path = Path(cache_dir) / f"{key}.safetensors"
    if path.is_file():
        return load_features(path, key)
    feats = compute_features(model, encoded, key)
    feats.save(path)
    return feats
