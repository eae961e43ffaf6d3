"""HR and NDCG at cutoffs over all items (no candidate sampling), one target per user.

rank r (0-based) of the held-out item in the user's list: HR@k = [r < k],
NDCG@k = [r < k] / log2(r + 2) (one relevant item, so the ideal DCG is 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

CUTOFFS = (5, 10, 20)


def target_ranks(topk: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """topk: [B, K] ranked item indices (-1 = empty); targets: [B] -> [B] rank or -1."""
    hit = topk == targets[:, None]
    return np.where(hit.any(1), hit.argmax(1), -1)


def per_user_metrics(users: np.ndarray, ranks: np.ndarray, cutoffs=CUTOFFS) -> pd.DataFrame:
    df = pd.DataFrame({"user": users.astype("int32"), "rank": ranks.astype("int32")})
    found = ranks >= 0
    for k in cutoffs:
        inside = found & (ranks < k)
        df[f"hr@{k}"] = inside.astype("float64")
        df[f"ndcg@{k}"] = np.where(inside, 1.0 / np.log2(np.maximum(ranks, 0) + 2.0), 0.0)
    return df


def summarize(per_user: pd.DataFrame) -> dict[str, float]:
    cols = [c for c in per_user.columns if c.startswith(("hr@", "ndcg@"))]
    return {c: float(per_user[c].mean()) for c in cols}


def mask_seen(scores: torch.Tensor, seen: list[np.ndarray] | None) -> torch.Tensor:
    """scores: [B, I] item scores of B users; seen: [B] item indices each user already has
    (rec.eval.exclude_history) -> the scores with those items at -inf, so a top-k skips them;
    None -> the scores unchanged (full catalogue: the TIGER/P5 protocol)."""
    if seen is None:
        return scores
    rows = np.repeat(np.arange(len(seen)), [len(s) for s in seen])
    cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in seen] + [np.zeros(0, np.int64)])
    out = scores.clone()
    out[torch.from_numpy(rows).to(scores.device), torch.from_numpy(cols).to(scores.device)] = float("-inf")
    return out
