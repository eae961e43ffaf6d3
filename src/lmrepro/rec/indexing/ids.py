"""Shared pieces of every indexing: integer digits, tie-break suffixes, the output table.

An ID is a short sequence of non-negative integers ("tokens"); position p of every ID
draws from one token range in the model vocabulary (see rec.vocab)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError

KINDS = ("user", "item")


def digits(values: np.ndarray, base: int) -> list[tuple[int, ...]]:
    """Fixed-width base-`base` digits, most significant first: 1234, base 32 -> (1, 6, 18)."""
    values = np.asarray(values, dtype=np.int64)
    if base < 2:
        raise LmreproError(f"digit base must be >= 2, got {base}")
    width = 1
    while base**width <= max(int(values.max(initial=0)), 0):
        width += 1
    out = np.zeros((len(values), width), dtype=np.int64)
    v = values.copy()
    for p in range(width - 1, -1, -1):
        out[:, p] = v % base
        v //= base
    return [tuple(int(x) for x in row) for row in out]


def add_suffix(paths: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Append a tie-break token: the node's rank among nodes sharing its path (input order)."""
    seen: dict[tuple[int, ...], int] = defaultdict(int)
    out = []
    for p in paths:
        out.append(p + (seen[p],))
        seen[p] += 1
    return out


def index_table(
    users: np.ndarray,
    user_ids: list[tuple[int, ...]],
    items: np.ndarray,
    item_ids: list[tuple[int, ...]],
) -> pd.DataFrame:
    """The stage's output: one row per entity, tokens as space-separated integers."""
    if len(users) != len(user_ids) or len(items) != len(item_ids):
        raise LmreproError("index_table: one ID per entity is required")
    df = pd.DataFrame(
        {
            "entity": np.concatenate([users, items]).astype("int32"),
            "kind": ["user"] * len(users) + ["item"] * len(items),
            "tokens": [" ".join(map(str, t)) for t in list(user_ids) + list(item_ids)],
        }
    )
    check_unique(df)
    return df


def check_unique(df: pd.DataFrame, where: str = "index") -> None:
    """Every entity has exactly one ID and no two entities of a kind share an ID."""
    for kind in KINDS:
        part = df[df["kind"] == kind]
        dup_e = part["entity"][part["entity"].duplicated()]
        if len(dup_e):
            raise LmreproError(f"{where}: {kind} entity {int(dup_e.iloc[0])} has several IDs")
        dup_t = part["tokens"][part["tokens"].duplicated()]
        if len(dup_t):
            raise LmreproError(f"{where}: {kind} ID '{dup_t.iloc[0]}' is not unique")


def parse_tokens(df: pd.DataFrame, kind: str) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """(entities sorted by original id, their token tuples) for one kind."""
    part = df[df["kind"] == kind].sort_values("entity")
    return part["entity"].to_numpy(), [tuple(int(x) for x in t.split()) for t in part["tokens"]]
