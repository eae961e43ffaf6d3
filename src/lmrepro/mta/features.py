"""Cache of everything frozen below the first adapter.

Why: every adapter method freezes the backbone, so the embeddings, the lower blocks and
the first adapted block up to its adapter (attention output and FFN output, see
``MtaClassifier.front``) give the same result every epoch. Computing them once and
training only from the first adapter on makes an epoch several times cheaper
(``python -m lmrepro.mta.bench`` measures it).

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

    attn: torch.Tensor  # [T, H] float32 attention output of the first adapted block, examples concatenated
    ffn: torch.Tensor  # [T, H] float32 its FFN output (the adapter's input)
    offsets: np.ndarray  # [N + 1]
    key: str

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Right-padded (attn [B, S_max, H], ffn [B, S_max, H], attention_mask [B, S_max])."""
        lens = np.diff(self.offsets)[rows]
        width = int(lens.max())
        attn = self.attn.new_zeros((len(rows), width, self.attn.shape[1]))
        ffn = torch.zeros_like(attn)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, (r, n) in enumerate(zip(rows, lens)):
            a, b = self.offsets[r], self.offsets[r + 1]
            attn[j, :n] = self.attn[a:b]
            ffn[j, :n] = self.ffn[a:b]
            mask[j, :n] = 1
        return attn, ffn, mask

    def save(self, path: Path) -> None:
        tensors = {"attn": self.attn.contiguous(), "ffn": self.ffn.contiguous(),
                   "offsets": torch.from_numpy(self.offsets)}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"key": self.key})


def compute_features(model, encoded: Encoded, key: str, batch_size: int = 64, progress=None,
                     rows: np.ndarray | None = None) -> FeatureCache:
    """Run ``model.lower`` + ``model.front`` once over all examples (length-sorted, no grad);
    with ``rows``, over those examples only (the others stay zero: a cache for a run that
    never reads them, e.g. the placement search, which reads no test row)."""
    rows = np.arange(len(encoded)) if rows is None else np.asarray(rows)
    order = rows[np.argsort(encoded.lengths()[rows], kind="stable")]
    hidden_size = model.encoder_config.hidden_size
    attn_out = torch.zeros((int(encoded.offsets[-1]), hidden_size), dtype=torch.float32)
    ffn_out = torch.zeros_like(attn_out)
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    model.eval()  # left in eval: callers share these backbone modules and need dropout off
    with torch.no_grad():
        for batch in (progress(batches, desc="lower blocks") if progress else batches):
            ids, mask, types = encoded.batch(batch)
            attn, ffn = model.front(model.lower(ids, mask, types), mask)  # [B, S, H] each
            for j, r in enumerate(batch):
                a, b = encoded.offsets[r], encoded.offsets[r + 1]
                attn_out[a:b] = attn[j, : b - a]
                ffn_out[a:b] = ffn[j, : b - a]
    return FeatureCache(attn_out, ffn_out, encoded.offsets.copy(), key)


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
    return FeatureCache(tensors["attn"], tensors["ffn"], tensors["offsets"].numpy().astype(np.int64), key)


def cached_features(cache_dir: Path, model, encoded: Encoded, backbone_digest: str) -> FeatureCache:
    """Get ``<cache_dir>/<key>.safetensors``, computing and saving it on a miss."""
    key = cache_key(backbone_digest, encoded.digest(), model.first_adapted)
    path = Path(cache_dir) / f"{key}.safetensors"
    if path.is_file():
        return load_features(path, key)
    feats = compute_features(model, encoded, key)
    feats.save(path)
    return feats
