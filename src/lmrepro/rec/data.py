"""Interaction tables -> the arrays every indexing and model of this track consumes.

The foundation's table has one row per (user, item) event with a leave-one-out `split`.
Everything downstream works on contiguous 0-based indices, so `Catalog` fixes the mapping
from original ids once (sorted ids => deterministic regardless of row order)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrepro.errors import LmreproError

SPLITS = ("train", "valid", "test")
REQUIRED_COLUMNS = ("user", "item", "position", "split")


def read_sequences_txt(path: Path) -> pd.DataFrame:
    """Read the raw Amazon 5-core file (`user item item ...` per line, chronological) into
    the foundation's layout with a leave-one-out split. Used by the bench and by tests that
    must not depend on the data stage."""
    rows = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if len(parts) < 4:
                raise LmreproError(f"{path}:{lineno}: a user needs >= 3 items for leave-one-out")
            user, items = int(parts[0]), [int(x) for x in parts[1:]]
            n = len(items)
            for pos, item in enumerate(items):
                split = "test" if pos == n - 1 else "valid" if pos == n - 2 else "train"
                rows.append((user, item, pos, split))
    return pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS)).astype(
        {"user": "int32", "item": "int32", "position": "int32"}
    )


def check_interactions(df: pd.DataFrame, where: str = "interactions") -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise LmreproError(f"{where}: missing column(s) {missing}")
    bad = set(df["split"].unique()) - set(SPLITS)
    if bad:
        raise LmreproError(f"{where}: column 'split' has unknown values {sorted(bad)}")
    counts = df.groupby("user")["split"].value_counts().unstack(fill_value=0)
    for s in ("valid", "test"):
        if s not in counts or (counts[s] != 1).any():
            raise LmreproError(f"{where}: every user needs exactly one '{s}' row (leave-one-out)")


def subset_users(df: pd.DataFrame, max_users: int, seed: int) -> pd.DataFrame:
    """Keep a seeded random sample of `max_users` users (0 = all). Sampling users, not
    events, keeps every kept user's full sequence and so the leave-one-out protocol."""
    if max_users <= 0:
        return df.reset_index(drop=True)
    users = np.sort(df["user"].unique())
    if max_users >= len(users):
        return df.reset_index(drop=True)
    keep = np.random.default_rng(seed).choice(users, size=max_users, replace=False)
    out = df[df["user"].isin(keep)]
    return out.sort_values(["user", "position"]).reset_index(drop=True)


@dataclass(frozen=True)
class Catalog:
    """Contiguous indices for users and items (sorted original ids)."""

    users: np.ndarray  # [U] original user ids, sorted
    items: np.ndarray  # [I] original item ids, sorted

    @classmethod
    def from_interactions(cls, df: pd.DataFrame) -> "Catalog":
        # Every item of the dataset gets an ID, even one seen only in held-out rows:
        # it can be a target, and knowing the catalogue is not knowing the interaction.
        return cls(np.sort(df["user"].unique()), np.sort(df["item"].unique()))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def user_index(self, ids) -> np.ndarray:
        return np.searchsorted(self.users, np.asarray(ids))

    def item_index(self, ids) -> np.ndarray:
        return np.searchsorted(self.items, np.asarray(ids))


def user_sequences(df: pd.DataFrame, cat: Catalog, splits=("train",)) -> list[np.ndarray]:
    """Per user index (0..U-1): item indices of the given splits in chronological order."""
    part = df[df["split"].isin(splits)].sort_values(["user", "position"])
    u = cat.user_index(part["user"].to_numpy())
    i = cat.item_index(part["item"].to_numpy())
    bounds = np.searchsorted(u, np.arange(cat.n_users + 1))
    return [i[bounds[k] : bounds[k + 1]] for k in range(cat.n_users)]


def heldout_items(df: pd.DataFrame, cat: Catalog, split: str) -> np.ndarray:
    """[U] the item index each user holds out in `split` (valid or test)."""
    part = df[df["split"] == split]
    out = np.full(cat.n_users, -1, dtype=np.int64)
    out[cat.user_index(part["user"].to_numpy())] = cat.item_index(part["item"].to_numpy())
    return out


def interaction_matrix(df: pd.DataFrame, cat: Catalog, splits=("train",)) -> sp.csr_matrix:
    """[U, I] binary user-item matrix from the given splits (repeat purchases count once)."""
    part = df[df["split"].isin(splits)]
    rows = cat.user_index(part["user"].to_numpy())
    cols = cat.item_index(part["item"].to_numpy())
    m = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(cat.n_users, cat.n_items)
    )
    m.data[:] = 1.0  # duplicates were summed; binarize
    return m
