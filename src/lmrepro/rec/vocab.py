"""The model vocabulary: special tokens + one token range per ID position ("level").

Choice (papers.md allows it): instead of the official "item_30 21 0" strings through a
sentencepiece tokenizer, token k at ID position p is its own vocabulary entry
offset[p] + k. Users and items share the ranges, so a user and an item in the same SCI
cluster share their first token, which is what the official string IDs also give (the
same digits). A history of items (sequential setting) is the items' tokens joined by SEP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmrepro.errors import LmreproError

PAD, EOS, SEP = 0, 1, 2  # T5 conventions: pad = decoder start, eos = 1
N_SPECIAL = 3


@dataclass(frozen=True)
class Vocab:
    level_sizes: tuple[int, ...]  # number of distinct tokens at each ID position

    @classmethod
    def from_ids(cls, ids: list[tuple[int, ...]]) -> "Vocab":
        depth = max(len(t) for t in ids)
        sizes = [0] * depth
        for t in ids:
            for p, k in enumerate(t):
                sizes[p] = max(sizes[p], k + 1)
        return cls(tuple(sizes))

    @property
    def offsets(self) -> np.ndarray:
        return N_SPECIAL + np.concatenate([[0], np.cumsum(self.level_sizes)[:-1]]).astype(np.int64)

    @property
    def size(self) -> int:
        return N_SPECIAL + int(sum(self.level_sizes))

    def encode(self, ids: tuple[int, ...]) -> list[int]:
        if len(ids) > len(self.level_sizes) or any(
            k >= s or k < 0 for k, s in zip(ids, self.level_sizes)
        ):
            raise LmreproError(f"ID {ids} does not fit the vocabulary levels {self.level_sizes}")
        off = self.offsets
        return [int(off[p] + k) for p, k in enumerate(ids)]
