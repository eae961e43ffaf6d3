"""pandera models of the rec track's tables."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from lmrepro.schema import StrictTable


class IndexTable(StrictTable):
    """One ID per user and per item: space-separated integer tokens, unique per kind."""

    entity: Series[int] = pa.Field(ge=1)
    kind: Series[str] = pa.Field(isin=["user", "item"])
    tokens: Series[str] = pa.Field(str_matches=r"^\d+( \d+)*$")

    @pa.dataframe_check
    def unique_ids(cls, df) -> bool:  # noqa: N805 - pandera API
        return not (df.duplicated(["kind", "entity"]).any() or df.duplicated(["kind", "tokens"]).any())


class UserMetrics(StrictTable):
    """Per-user evaluation: rank of the held-out item in the top-K list (-1 = not in it)."""

    split: Series[str] = pa.Field(isin=["valid", "test"])
    user: Series[int] = pa.Field(ge=1)
    rank: Series[int] = pa.Field(ge=-1)
    hr_5: Series[float] = pa.Field(alias="hr@5", in_range={"min_value": 0, "max_value": 1})
    ndcg_5: Series[float] = pa.Field(alias="ndcg@5", in_range={"min_value": 0, "max_value": 1})
    hr_10: Series[float] = pa.Field(alias="hr@10", in_range={"min_value": 0, "max_value": 1})
    ndcg_10: Series[float] = pa.Field(alias="ndcg@10", in_range={"min_value": 0, "max_value": 1})
    hr_20: Series[float] = pa.Field(alias="hr@20", in_range={"min_value": 0, "max_value": 1})
    ndcg_20: Series[float] = pa.Field(alias="ndcg@20", in_range={"min_value": 0, "max_value": 1})
