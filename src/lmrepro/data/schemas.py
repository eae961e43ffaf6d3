"""pandera models of the tables the data stage builds (validated on write and on read)."""

from __future__ import annotations

from typing import Optional

import pandera.pandas as pa
from pandera.typing import Series

from lmrepro.schema import StrictTable

SPLITS = ["train", "valid", "test"]
NLU_TASKS = ["sst2", "trec", "subj", "cr", "mpqa", "mr", "cola", "sick", "msrp"]


class RecInteractions(StrictTable):
    """One row per interaction, users' sequences in time order, leave-one-out split."""

    user: Series[int] = pa.Field(ge=1)
    item: Series[int] = pa.Field(ge=1)
    position: Series[int] = pa.Field(ge=0)
    split: Series[str] = pa.Field(isin=SPLITS)

    @pa.dataframe_check
    def unique_user_position(cls, df) -> bool:  # noqa: N805 - pandera API
        return not df.duplicated(["user", "position"]).any()


class NluExamples(StrictTable):
    task: Series[str] = pa.Field(isin=NLU_TASKS)
    split: Series[str] = pa.Field(isin=SPLITS)
    text_a: Series[str] = pa.Field(str_length={"min_value": 1})
    text_b: Optional[Series[str]] = pa.Field(nullable=True)
    label: Series[int] = pa.Field(ge=0)
    label_name: Series[str]


class TextCorpus(StrictTable):
    source: Series[str]
    doc: Series[str]
    text: Series[str] = pa.Field(str_length={"min_value": 1})
    split: Series[str] = pa.Field(isin=["train", "valid"])

    @pa.dataframe_check
    def unique_doc(cls, df) -> bool:  # noqa: N805
        return not df.duplicated(["source", "doc"]).any()
