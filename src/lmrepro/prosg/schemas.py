"""pandera models of the ProSG tables (validated when written and when read)."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

KINDS = ["kv", "passkey", "format"]
SPLITS = ["train", "valid", "test"]


class ProsgExamples(pa.DataFrameModel):
    """One prompt-filler-query example; ``answer`` is the exact string to generate."""

    uid: Series[str] = pa.Field(unique=True)
    split: Series[str] = pa.Field(isin=SPLITS)
    kind: Series[str] = pa.Field(isin=KINDS)
    key: Series[str] = pa.Field(str_length={"min_value": 1})  # kind:name (kv, held out per split) or kind:answer word
    distance: Series[int] = pa.Field(ge=0)  # filler length in words
    prompt: Series[str] = pa.Field(str_length={"min_value": 1})
    filler: Series[str]
    query: Series[str] = pa.Field(str_length={"min_value": 1})
    answer: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check
    def kv_names_disjoint_across_splits(cls, df) -> bool:  # noqa: N805 - pandera API
        """A test question never asks about a name seen in training (answer words are shared)."""
        kv = df[df["kind"] == "kv"]
        return bool((kv.groupby("key")["split"].nunique() <= 1).all())


class ProsgAccuracy(pa.DataFrameModel):
    """Exact-match accuracy per method x distance (x kind, 'all' for the pooled row)."""

    method: Series[str]
    kind: Series[str]
    distance: Series[int] = pa.Field(ge=0)
    n: Series[int] = pa.Field(ge=1)
    correct: Series[int] = pa.Field(ge=0)
    accuracy: Series[float] = pa.Field(ge=0, le=1)
    ci_low: Series[float] = pa.Field(ge=0, le=1)
    ci_high: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        coerce = True
