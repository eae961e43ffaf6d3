"""Amazon 2014 5-core sequences into an interactions table with a leave-one-out split.

Input: one line per user, ``user item1 item2 ...`` in time order (the format used by
S3Rec, ICLRec, TIGER and LightLM). Per user: last item = test, second-last = valid,
the rest = train, the split every peer in papers.md uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError

DATASET_FILES = {"beauty": "Beauty.txt", "sports": "Sports_and_Outdoors.txt", "toys": "Toys_and_Games.txt"}


@dataclass(frozen=True)
class RecStats:
    users: int
    items: int
    interactions: int


def read_sequences(path: Path) -> dict[int, list[int]]:
    if not path.is_file():
        raise LmreproError(f"{path}: file not found")
    sequences: dict[int, list[int]] = {}
    with open(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                ids = [int(p) for p in parts]
            except ValueError as err:
                raise LmreproError(f"{path}:{lineno}: expected integer ids ({err})") from err
            user, items = ids[0], ids[1:]
            if user in sequences:
                raise LmreproError(f"{path}:{lineno}: user {user} appears twice")
            if len(items) < 3:
                raise LmreproError(f"{path}:{lineno}: user {user} has {len(items)} items; leave-one-out needs >= 3")
            sequences[user] = items
    if not sequences:
        raise LmreproError(f"{path}: no sequences")
    return sequences


def leave_one_out(sequences: dict[int, list[int]]) -> pd.DataFrame:
    lengths = np.fromiter((len(v) for v in sequences.values()), dtype=np.int64, count=len(sequences))
    users = np.repeat(np.fromiter(sequences.keys(), dtype=np.int64, count=len(sequences)), lengths)
    items = np.concatenate([np.asarray(v, dtype=np.int64) for v in sequences.values()])
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(len(items)) - offsets
    from_end = np.repeat(lengths, lengths) - position  # 1 = last
    split = np.where(from_end == 1, "test", np.where(from_end == 2, "valid", "train"))
    return pd.DataFrame({
        "user": users.astype(np.int32),
        "item": items.astype(np.int32),
        "position": position.astype(np.int32),
        "split": split,
    })


def stats(table: pd.DataFrame) -> RecStats:
    return RecStats(int(table["user"].nunique()), int(table["item"].nunique()), int(len(table)))
