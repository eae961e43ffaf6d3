"""Sequence files (Amazon 2014 5-core, or any file of that format: params data.rec.sources) into an interactions table with a leave-one-out split.

Input: one line per user, ``user item1 item2 ...`` in time order (the format used by
S3Rec, ICLRec, TIGER and LightLM). Per user: last item = test, second-last = valid,
the rest = train, the split every peer in papers.md uses.

Reading is strict (see :mod:`lmrepro.data.rawtext`): UTF-8 (the files are ASCII digits),
NUL bytes rejected, a UTF-8 BOM and CRLF line ends accepted (they change no id), and every
line must end with a newline, as all official files do, so a file cut inside its last
line is reported as truncated instead of silently losing that user's newest items. Ids
must be plain non-negative decimal integers that fit the table's int32 columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro.data.rawtext import read_text
from lmrepro.errors import LmreproError

_ID = re.compile(r"[0-9]+")
_MAX_ID = 2**31 - 1
_FORMAT = "'<user> <item> <item> ...' lines of integer ids"


@dataclass(frozen=True)
class RecStats:
    users: int
    items: int
    interactions: int


def read_sequences(path: Path) -> dict[int, list[int]]:
    text = read_text(path, "utf-8", _FORMAT, require_final_newline=True)
    sequences: dict[int, list[int]] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        if not parts:
            continue
        bad = next((p for p in parts if not _ID.fullmatch(p)), None)
        if bad is not None:
            raise LmreproError(f"{path}:{lineno}: expected integer ids ('<user> <item> <item> ...'), got {bad[:30]!r}")
        ids = [int(p) for p in parts]
        if max(ids) > _MAX_ID:
            raise LmreproError(f"{path}:{lineno}: id {max(ids)} does not fit a 32-bit integer")
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
