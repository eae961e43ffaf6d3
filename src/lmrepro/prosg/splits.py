"""The one way ProSG stages read the constructed set: by naming the splits they may see.

Why: a stage that trains or tunes must never see test rows. Reading the whole table and
filtering in each stage hid which splits a stage used; here every caller states them, so
a reviewer (and ``tests/prosg/test_split_discipline.py``) can check that pre-training and
generator training ask for ``train`` only and evaluation for ``valid`` (tuning) and
``test`` (reporting) separately.
"""

from __future__ import annotations

import os

import pandas as pd

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.prosg.schemas import SPLITS, ProsgExamples


def read_examples(path: str | os.PathLike, split: str) -> pd.DataFrame:
    """The validated rows of one split of ``path`` (index reset), in file order."""
    if split not in SPLITS:
        raise LmreproError(f"{path}: unknown split {split!r} (choose from {SPLITS})")
    examples = io.read_table(path, ProsgExamples)
    rows = examples[examples["split"] == split].reset_index(drop=True)
    if rows.empty:
        raise LmreproError(f"{path}: no rows in split {split!r}")
    return rows
