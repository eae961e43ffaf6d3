"""The ID tree as a measured object: shape statistics of an index table (ids.index_table).

The item IDs of an indexing form a prefix tree (the trie the model decodes over): its
depth, the lengths of the IDs (decoding steps per item) and how evenly the first token
splits the catalogue say what a generative recommender must learn before any accuracy
number. SCI with k-means labels was measured to grow lopsided, deep trees on Beauty, which
is why these numbers are reported for every indexing, next to the HR/NDCG tables.

Statistics (flat numeric keys, so they go to MLflow and the metrics JSON alike):
- item_id_len_mean, item_id_len_max: tokens per item ID;
- item_id_len_count_<L>: number of items whose ID has L tokens (the length histogram);
- tree_depth: cluster levels above the leaves = longest item ID minus its last token (the
  tie-break suffix of the clustering indexings, the last digit of the digit ones, which
  picks an item among its siblings); a flat list of items has depth 0;
- top_clusters: distinct first tokens among items (the root's children), counted only
  where IDs have more than one token; an item whose ID is a single token hangs from the
  root itself, and all such items form one group;
- top_largest_share: the largest top cluster's share of the items;
- top_entropy: entropy of the top cluster sizes divided by log(top_clusters): 1 = equal
  sizes; 0 when there is a single top cluster (the first token splits nothing);
- top_ui_edges_inside: share of the user-item training edges whose user and item share
  the first token, only for indexings whose users sit in the items' tree
  (USERS_IN_ITEM_TREE: SCI clusters users and items together, so a user's first token
  names the top cluster it belongs to). random, sequential, cid and gci give users IDs
  from a separate numbering (digits of the user number, or GCI's own k-means of user
  embeddings), so equal first tokens of a user and an item mean nothing there: the key
  is left out rather than reporting a number without meaning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, interaction_matrix
from lmrepro.rec.indexing.ids import parse_tokens
from lmrepro.rec.indexing.sci import cluster_quality

USERS_IN_ITEM_TREE = ("sci",)  # algorithms whose user IDs are paths of the items' tree
ROOT = -1  # top group of single-token IDs (they hang from the root, no cluster above them)


def top_tokens(ids: list[tuple[int, ...]]) -> np.ndarray:
    """[n] the top cluster of each ID: its first token, ROOT for a one-token ID."""
    return np.array([t[0] if len(t) > 1 else ROOT for t in ids], dtype=np.int64)


def item_tree_stats(item_ids: list[tuple[int, ...]]) -> dict[str, float]:
    """Length histogram, depth and top-level balance of the items' ID tree (see module)."""
    if not item_ids:
        raise LmreproError("ID-tree statistics: the index has no item IDs")
    lengths = np.array([len(t) for t in item_ids])
    sizes = np.unique(top_tokens(item_ids), return_counts=True)[1]
    p = sizes / sizes.sum()
    k = len(sizes)
    out: dict[str, float] = {
        "item_id_len_mean": float(lengths.mean()),
        "item_id_len_max": int(lengths.max()),
        "tree_depth": int(lengths.max()) - 1,
        "top_clusters": k,
        "top_largest_share": float(p.max()),
        "top_entropy": float(-(p * np.log(p)).sum() / np.log(k)) if k > 1 else 0.0,
    }
    for length, count in zip(*np.unique(lengths, return_counts=True)):
        out[f"item_id_len_count_{int(length)}"] = int(count)
    return out


def tree_stats(table: pd.DataFrame, df: pd.DataFrame, users_in_item_tree: bool) -> dict[str, float]:
    """table: the rec_index output (entity, kind, tokens); df: the interactions the index was
    built from (only split == 'train' rows count as edges). -> the statistics of the module
    docstring; top_ui_edges_inside only when users_in_item_tree."""
    cat = Catalog.from_interactions(df)
    users, user_ids = parse_tokens(table, "user")
    items, item_ids = parse_tokens(table, "item")
    if not (np.array_equal(users, cat.users) and np.array_equal(items, cat.items)):
        raise LmreproError("ID-tree statistics: the index table's users/items are not those of the interactions")
    out = item_tree_stats(item_ids)
    if users_in_item_tree:
        train: sp.csr_matrix = interaction_matrix(df, cat, ("train",))
        top = np.concatenate([top_tokens(user_ids), top_tokens(item_ids)])  # users first, as cluster_quality
        out["top_ui_edges_inside"] = cluster_quality(train, 1.0, top)["ui_edges_inside"]
    return out
