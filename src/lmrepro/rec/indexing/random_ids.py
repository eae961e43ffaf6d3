"""Random indexing (Hua et al.): each entity gets a random number, written as base-B digits.

Digits shared by two IDs mean nothing here; this is the no-information baseline."""

from __future__ import annotations

import numpy as np

from lmrepro.rec.indexing.ids import digits


def random_ids(n: int, base: int, seed: int) -> list[tuple[int, ...]]:
    return digits(np.random.default_rng(seed).permutation(n), base)
