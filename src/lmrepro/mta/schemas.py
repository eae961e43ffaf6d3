"""Tables the MTA stages write (pandera, strict, coerced)."""

import pandera.pandas as pa
from pandera.typing import Series

from lmrepro.schema import StrictTable


class Examples(StrictTable):
    """The tokenized subsample: row i of this table is example i of the token store."""

    task: Series[str]
    split: Series[str] = pa.Field(isin=["train", "valid", "test"])
    text_a: Series[str]
    text_b: Series[str] = pa.Field(nullable=True)
    label: Series[int] = pa.Field(ge=0)
    n_labels: Series[int] = pa.Field(ge=2)
    source_row: Series[int] = pa.Field(ge=0)
    rank: Series[int] = pa.Field(ge=0)  # place in the task/split's seeded draw (data.select_examples)


class Predictions(StrictTable):
    """One row per (method, seed, test example)."""

    method: Series[str]
    seed: Series[int]
    task: Series[str]
    row: Series[int] = pa.Field(ge=0)
    label: Series[int] = pa.Field(ge=0)
    pred: Series[int] = pa.Field(ge=0)


class Scores(StrictTable):
    """Per (method, seed, task) scores; mcc only for CoLA, f1 only for MSRP."""

    method: Series[str]
    seed: Series[int]
    task: Series[str]
    acc: Series[float]
    mcc: Series[float] = pa.Field(nullable=True)
    f1: Series[float] = pa.Field(nullable=True)
    score: Series[float]


class CurveScores(StrictTable):
    """Learning curve (mta/curve.py): one row per (method, n_train, seed, task)."""

    method: Series[str] = pa.Field(isin=["adapters", "mta"])
    n_train: Series[int] = pa.Field(ge=1)  # the curve size asked for (rows of rank < n_train)
    seed: Series[int]
    task: Series[str]
    rows: Series[int] = pa.Field(ge=1)  # training rows the task had (fewer where its split is smaller)
    score: Series[float] = pa.Field(ge=-1, le=1)
