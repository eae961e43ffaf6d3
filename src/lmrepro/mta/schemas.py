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
