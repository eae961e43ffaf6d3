"""ID-tree statistics (rec/indexing/tree_stats.py) on hand-built index tables with known
numbers, the params schema/dataclass agreement on sci_qr, and the whole-tree benchmark's
three builds on a tiny block-structured graph."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from lmrepro.config import from_dict, load_params, validate_params
from lmrepro.errors import LmreproError
from lmrepro.rec.indexing import IndexConfig
from lmrepro.rec.indexing.ids import index_table
from lmrepro.rec.indexing.spectral import SpectralConfig
from lmrepro.rec.indexing.tree_stats import item_tree_stats, tree_stats
from lmrepro.rec.tree_bench import METHODS, measure_tree
from tests.conftest import REPO


def _tiny():
    """Users 10, 11; items 1..5. Item IDs: cluster 0 = {1, 2, 3}, cluster 1 = {4, 5}, item 5
    one level deeper. Train edges: 10-1 (inside), 10-4 (outside), 11-5 (inside), 11-2
    (outside); the valid row 10-2 (inside) and the test row 11-3 must not count."""
    table = index_table(np.array([10, 11]), [(0, 0), (1, 0)],
                        np.array([1, 2, 3, 4, 5]), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1, 0)])
    df = pd.DataFrame({"user": [10, 10, 11, 11, 10, 11], "item": [1, 4, 5, 2, 2, 3],
                       "position": [0, 1, 0, 1, 2, 2],
                       "split": ["train", "train", "train", "train", "valid", "test"]})
    return table, df


def test_tree_stats_of_a_hand_built_table():
    table, df = _tiny()
    s = tree_stats(table, df, users_in_item_tree=True)
    entropy = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4)) / math.log(2)
    assert s == pytest.approx({
        "item_id_len_mean": 2.2, "item_id_len_max": 3, "tree_depth": 2,
        "item_id_len_count_2": 4, "item_id_len_count_3": 1,
        "top_clusters": 2, "top_largest_share": 0.6, "top_entropy": entropy,
        "top_ui_edges_inside": 0.5,
    })


def test_item_only_indexings_have_no_edge_share():
    table, df = _tiny()
    s = tree_stats(table, df, users_in_item_tree=False)
    assert "top_ui_edges_inside" not in s and s["tree_depth"] == 2


def test_single_token_ids_are_one_flat_level():
    s = item_tree_stats([(0,), (1,), (2,)])
    assert (s["tree_depth"], s["top_clusters"], s["top_largest_share"], s["top_entropy"]) == (0, 1, 1.0, 0.0)
    assert s["item_id_len_count_1"] == 3


def test_balanced_top_level_has_entropy_one():
    s = item_tree_stats([(c, j) for c in range(4) for j in range(3)])
    assert s["top_entropy"] == pytest.approx(1.0) and s["top_largest_share"] == pytest.approx(0.25)


def test_table_of_other_interactions_is_rejected():
    table, df = _tiny()
    with pytest.raises(LmreproError, match="not those of the interactions"):
        tree_stats(table, df[df["item"] != 3], users_in_item_tree=True)


def test_sci_qr_params_pass_the_schema_and_the_dataclass():
    params = load_params(REPO / "params.yaml")
    validate_params(params, REPO)
    cfg = from_dict(IndexConfig, params["rec"]["index"]["sci_qr"], "rec.index.sci_qr")
    sci = from_dict(IndexConfig, params["rec"]["index"]["sci"], "rec.index.sci")
    assert cfg.spectral.assign_labels == "cluster_qr" and sci.spectral.assign_labels == "kmeans"
    assert cfg.graph == sci.graph and cfg.spectral.n_clusters == sci.spectral.n_clusters
    bad = copy.deepcopy(params)
    bad["rec"]["index"]["sci_qr"]["spectral"]["assign_labels"] = "qr"
    with pytest.raises(LmreproError, match="assign_labels"):
        validate_params(bad, REPO)


def test_tree_bench_builds_three_trees_on_a_tiny_graph():
    """3 communities of 20 users x 30 items each: every build finds them at the top."""
    rng = np.random.default_rng(0)
    b = sp.lil_matrix((60, 90))
    for c in range(3):
        block = rng.random((20, 30)) < 0.3
        b[c * 20:(c + 1) * 20, c * 30:(c + 1) * 30] = block
    b = sp.csr_matrix(b)
    keep = np.arange(150)
    runs = measure_tree(b, keep, SpectralConfig(n_clusters=3, max_leaf=20, n_init=2))
    assert [r.method for r in runs] == list(METHODS)
    truth = np.concatenate([np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 30)])
    for r in runs:
        assert adjusted_rand_score(truth, r.labels) == 1.0, r.method
        assert r.top_clusters == 3 and r.top_largest_share == pytest.approx(1 / 3)
        assert r.depth >= 2 and r.secs > 0  # 50-node clusters > max_leaf 20: split again
    with pytest.raises(LmreproError, match="tree bench method"):
        measure_tree(b, keep, SpectralConfig(n_clusters=3, max_leaf=20), methods=("amg",))
