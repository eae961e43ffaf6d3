"""How the backbone is stored in the eNVM: int8 codes, bitmask pruning, and bit errors.

- ``quantize_rows``: symmetric per-row int8 (scale = max|w| / 127 per output row). The
  scales are a few hundred floats kept exact next to the array (SRAM/registers).
- ``prune_magnitude``: zero the ``s`` fraction of smallest-magnitude weights of a tensor;
  storage is a bitmask plus the surviving int8 codes (energy.prune_factor prices it).
- ``flip_bits``: every stored bit flips independently with probability p (the fault model
  of NVMExplorer's multi-level-cell RRAM study). Sampled exactly as a Bernoulli process by
  drawing geometric gaps between flipped bits, so the cost grows with the flips, not the bits.
"""

from __future__ import annotations

import numpy as np

from lmrepro.errors import LmreproError


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float [R, C] -> (int8 codes [R, C], float32 scales [R]); zero rows get scale 1."""
    if w.ndim != 2:
        raise LmreproError(f"quantize_rows expects a matrix, got shape {w.shape}")
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def dequantize_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale[:, None]


def prune_magnitude(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Copy of ``w`` with the round(s * size) smallest |w| set to 0 (ties broken by position)."""
    if not 0.0 <= sparsity < 1.0:
        raise LmreproError(f"pruning sparsity must lie in [0, 1), got {sparsity}")
    out = np.array(w, copy=True)
    k = int(round(sparsity * out.size))
    if k:
        flat = out.reshape(-1)
        idx = np.argpartition(np.abs(flat), k - 1, kind="introselect")[:k]
        flat[idx] = 0
    return out


def bernoulli_positions(n: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices in [0, n) where independent Bernoulli(p) trials succeed."""
    if not 0.0 <= p <= 1.0:
        raise LmreproError(f"bit-error rate must lie in [0, 1], got {p}")
    if p == 0.0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if p == 1.0:
        return np.arange(n, dtype=np.int64)
    out, start = [], -1
    while True:
        chunk = int(n * p * 1.05) + 64
        pos = start + np.cumsum(rng.geometric(p, size=chunk), dtype=np.int64)
        out.append(pos[pos < n])
        if pos[-1] >= n:
            return np.concatenate(out)
        start = int(pos[-1])


def flip_bits(codes: np.ndarray, p: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Copy of int8 ``codes`` with each of its 8 * size bits flipped w.p. ``p``; (codes, flips)."""
    if codes.dtype != np.int8:
        raise LmreproError(f"flip_bits stores int8 codes, got {codes.dtype}")
    out = np.array(codes, copy=True)
    buf = out.reshape(-1).view(np.uint8)
    pos = bernoulli_positions(buf.size * 8, p, rng)
    np.bitwise_xor.at(buf, pos // 8, (1 << (pos % 8)).astype(np.uint8))
    return out, int(pos.size)
