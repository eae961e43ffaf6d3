"""pandera models of the ProSG tables (validated when written and when read)."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from lmrepro.schema import StrictTable

KINDS = ["kv", "passkey", "format"]
SPLITS = ["train", "valid", "test"]


class ProsgExamples(StrictTable):
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


    @pa.dataframe_check
    def kv_names_disjoint_across_splits(cls, df) -> bool:  # noqa: N805 - pandera API
        """A test question never asks about a name seen in training (answer words are shared)."""
        kv = df[df["kind"] == "kv"]
        return bool((kv.groupby("key")["split"].nunique() <= 1).all())


class ProsgAccuracy(StrictTable):
    """Exact-match accuracy per method x distance (x kind, 'all' for the pooled row): the
    mean over seeds and items, CI resampling both (lmrepro.prosg.summary)."""

    method: Series[str]
    kind: Series[str]
    distance: Series[int] = pa.Field(ge=0)
    n: Series[int] = pa.Field(ge=1)  # test items (each scored under every seed)
    seeds: Series[int] = pa.Field(ge=1)
    accuracy: Series[float] = pa.Field(ge=0, le=1)
    ci_low: Series[float] = pa.Field(ge=0, le=1)
    ci_high: Series[float] = pa.Field(ge=0, le=1)



class ProsgPredictions(StrictTable):
    """One scored test item per (method, uid, seed): the paired outcomes every claim is
    computed from (McNemar, paired bootstrap), not only the aggregated accuracy.

    ``prediction`` is the greedy answer under teacher forcing (the argmax token at each
    answer position given the gold prefix, decoded and cut at the end token): it equals
    the free-running greedy output whenever ``correct`` is 1, and agrees with it up to the
    first wrong token otherwise. ``seed`` is the runtime seed that trained the base LM and
    the generators scored here.
    """

    method: Series[str] = pa.Field(str_length={"min_value": 1})
    uid: Series[str] = pa.Field(str_length={"min_value": 1})
    kind: Series[str] = pa.Field(isin=KINDS)
    distance: Series[int] = pa.Field(ge=0)
    seed: Series[int] = pa.Field(ge=0)
    prediction: Series[str]
    answer: Series[str] = pa.Field(str_length={"min_value": 1})
    correct: Series[int] = pa.Field(isin=[0, 1])

    class Config:
        unique = ["method", "uid", "seed"]

    @pa.dataframe_check
    def correct_means_exact_answer(cls, df) -> bool:  # noqa: N805 - pandera API
        """A row scored correct predicts exactly the gold answer (same tokens, same string)."""
        hit = df["correct"] == 1
        return bool((df.loc[hit, "prediction"] == df.loc[hit, "answer"]).all())
