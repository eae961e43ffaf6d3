"""Item/user indexing methods. `build_index` is the single entry point used by the
rec_index stage: one params variant (rec.index.<variant>) -> the ID table + statistics.

Users need IDs too (the direct setting feeds the user ID). SCI and GCI cluster users with
the same method as items; random, sequential and CID index items only, so their users get
base-B digits of their number (random: a random permutation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, check_interactions, interaction_matrix, user_sequences
from lmrepro.rec.indexing.bpr import BprConfig, train_bpr
from lmrepro.rec.indexing.cid import cid_ids
from lmrepro.rec.indexing.gci import ChunkConfig, chunk_kmeans_ids
from lmrepro.rec.indexing.graph import GraphConfig
from lmrepro.rec.indexing.ids import digits, index_table
from lmrepro.rec.indexing.random_ids import random_ids
from lmrepro.rec.indexing.sci import sci_ids
from lmrepro.rec.indexing.sequential import sequential_ids
from lmrepro.rec.indexing.spectral import SpectralConfig

ALGORITHMS = ("random", "sequential", "cid", "sci", "gci")


@dataclass(frozen=True)
class IndexConfig:
    algorithm: str  # one of ALGORITHMS
    digit_base: int = 32  # base of digit IDs: 12k items -> 3 tokens, small vocab
    spectral: SpectralConfig = field(default_factory=SpectralConfig)  # cid, sci
    graph: GraphConfig = field(default_factory=GraphConfig)  # sci
    bpr: BprConfig = field(default_factory=BprConfig)  # gci
    chunk: ChunkConfig = field(default_factory=ChunkConfig)  # gci

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise LmreproError(f"rec.index algorithm={self.algorithm!r}: use one of {ALGORITHMS}")


def build_index(df: pd.DataFrame, cfg: IndexConfig, seed: int) -> tuple[pd.DataFrame, dict]:
    """df: interactions (user, item, position, split); only split=='train' rows shape the
    IDs, except SCI with graph.leak=true (the official code's defect, for the ablation)."""
    check_interactions(df)
    cat = Catalog.from_interactions(df)
    train = interaction_matrix(df, cat, ("train",))
    stats: dict = {}
    user_ids = digits(np.arange(cat.n_users), cfg.digit_base)
    if cfg.algorithm == "random":
        user_ids = random_ids(cat.n_users, cfg.digit_base, seed + 1)
        item_ids = random_ids(cat.n_items, cfg.digit_base, seed)
    elif cfg.algorithm == "sequential":
        item_ids = sequential_ids(user_sequences(df, cat), cat.n_items, cfg.digit_base)
    elif cfg.algorithm == "cid":
        item_ids = cid_ids(train, cfg.spectral, seed)
    elif cfg.algorithm == "sci":
        full = interaction_matrix(df, cat, ("train", "valid", "test")) if cfg.graph.leak else None
        user_ids, item_ids, stats = sci_ids(train, full, cfg.graph, cfg.spectral, seed)
    else:  # gci
        eu, ei = train_bpr(train, cfg.bpr, seed)
        user_ids = chunk_kmeans_ids(eu, cfg.chunk, seed)
        item_ids = chunk_kmeans_ids(ei, cfg.chunk, seed)
    table = index_table(cat.users, user_ids, cat.items, item_ids)
    stats.update({"n_users": cat.n_users, "n_items": cat.n_items})  # ID lengths: tree_stats.py
    return table, stats
