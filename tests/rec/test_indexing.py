import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401 - sp.csgraph
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score

from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, interaction_matrix
from lmrepro.rec.indexing import ALGORITHMS, IndexConfig, build_index
from lmrepro.rec.indexing.bpr import BprConfig
from lmrepro.rec.indexing.graph import GraphConfig, joint_graph
from lmrepro.rec.indexing.ids import check_unique, digits
from lmrepro.rec.indexing.spectral import SpectralConfig, recursive_spectral, spectral_clustering


def _cfg(alg):
    return IndexConfig(
        algorithm=alg, spectral=SpectralConfig(n_clusters=5, max_leaf=60, n_init=2), bpr=BprConfig(epochs=2)
    )


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_every_entity_gets_a_unique_id(beauty_small, alg):
    table, stats = build_index(beauty_small, _cfg(alg), seed=0)
    cat = Catalog.from_interactions(beauty_small)
    items = table[table.kind == "item"]
    users = table[table.kind == "user"]
    assert sorted(items.entity) == sorted(cat.items)
    assert sorted(users.entity) == sorted(cat.users)
    assert items.tokens.is_unique and users.tokens.is_unique
    assert stats["n_items"] == cat.n_items


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_index_is_deterministic(beauty_small, alg):
    """Same params and seed => the same IDs and the same statistics (every method)."""
    a, sa = build_index(beauty_small, _cfg(alg), seed=3)
    b, sb = build_index(beauty_small, _cfg(alg), seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert sa == sb


def test_duplicate_ids_are_rejected():
    df = pd.DataFrame({"entity": [1, 2], "kind": ["item", "item"], "tokens": ["0 1", "0 1"]})
    with pytest.raises(LmreproError, match="not unique"):
        check_unique(df)


def test_digits():
    assert digits(np.array([0, 1234]), 32) == [(0, 0, 0), (1, 6, 18)]


def test_training_only_unless_leak(beauty_small):
    """Held-out items must not shape the user-user block, except with leak=true."""
    cat = Catalog.from_interactions(beauty_small)
    train = interaction_matrix(beauty_small, cat)
    full = interaction_matrix(beauty_small, cat, ("train", "valid", "test"))
    a, _ = joint_graph(train, full, GraphConfig())
    b, _ = joint_graph(train, None, GraphConfig())
    leak, _ = joint_graph(train, full, GraphConfig(leak=True))
    assert (a != b).nnz == 0
    assert (a != leak).nnz > 0


def test_share_normalization_sets_block_weights(beauty_small):
    cat = Catalog.from_interactions(beauty_small)
    train = interaction_matrix(beauty_small, cat)
    _, shares = joint_graph(train, None, GraphConfig(normalization="share", w_user_user=1, w_user_item=2, w_item_item=1))
    assert shares["user_item"] == pytest.approx(0.5)
    assert shares["user_user"] == pytest.approx(0.25)


def _blocks(n_blocks=4, size=30, seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros((n_blocks * size, n_blocks * size))
    for b in range(n_blocks):
        s = slice(b * size, (b + 1) * size)
        a[s, s] = rng.random((size, size)) < 0.5
    a += (rng.random(a.shape) < 0.01)  # a little noise between blocks
    a = np.triu(a, 1)
    return sp.csr_matrix(a + a.T)


def test_sparse_matches_sklearn_dense():
    a = _blocks(size=120)  # > DENSE_MAX nodes: ARPACK path
    ref = SpectralClustering(4, affinity="precomputed", random_state=0).fit_predict(a.toarray())
    ours = spectral_clustering(a, 4, seed=0)
    assert adjusted_rand_score(ref, ours) == pytest.approx(1.0)


def test_components_are_handled_explicitly():
    """Disconnected blocks (repeated eigenvalue 1) are each found exactly."""
    a = _blocks(n_blocks=3, size=200).tolil()
    a[:200, 200:] = 0
    a[200:, :200] = 0
    a[200:400, 400:] = 0
    a[400:, 200:400] = 0
    labels = spectral_clustering(sp.csr_matrix(a), 3, seed=0)
    truth = np.repeat(np.arange(3), 200)
    assert adjusted_rand_score(truth, labels) == 1.0


def test_recursion_respects_max_leaf():
    a = _blocks(n_blocks=3, size=40)
    paths = recursive_spectral(a, SpectralConfig(n_clusters=2, max_leaf=25), seed=0)
    groups = pd.Series(range(len(paths))).groupby([str(p) for p in paths]).size()
    assert groups.max() <= 25


def test_isolated_nodes_terminate():
    paths = recursive_spectral(sp.csr_matrix((50, 50)), SpectralConfig(n_clusters=3, max_leaf=10), seed=0)
    assert len(set(paths)) >= 5


@pytest.mark.parametrize("leak", [False, True])
def test_factored_graph_equals_the_explicit_one(beauty_small, leak):
    """The operator (never storing edges) is the explicit graph: products, degrees,
    components and subsets (co-occurrence still counted over all items/users)."""
    from lmrepro.rec.indexing.affinity import SparseAffinity
    from lmrepro.rec.indexing.graph import joint_affinity

    cat = Catalog.from_interactions(beauty_small)
    train = interaction_matrix(beauty_small, cat)
    full = interaction_matrix(beauty_small, cat, ("train", "valid", "test"))
    g, _ = joint_affinity(train, full, GraphConfig(w_user_user=0.5, w_user_item=2.0, leak=leak))
    a = g.explicit()
    ref = SparseAffinity(a)
    x = np.random.default_rng(0).normal(size=(g.n, 3))
    np.testing.assert_allclose(g.matvec(x), a @ x, atol=1e-10)
    np.testing.assert_allclose(g.degrees(), ref.degrees(), atol=1e-10)
    assert adjusted_rand_score(ref.components()[1], g.components()[1]) == 1.0
    idx = np.sort(np.random.default_rng(1).choice(g.n, g.n // 3, replace=False))
    sub = g.subgraph(idx)
    assert (sub.explicit() != a[idx][:, idx]).nnz == 0
    assert adjusted_rand_score(SparseAffinity(a[idx][:, idx]).components()[1], sub.components()[1]) == 1.0
    assert adjusted_rand_score(spectral_clustering(a, 5, seed=0), spectral_clustering(g, 5, seed=0)) == 1.0


def test_factored_components_without_user_item_edges(beauty_small):
    """w_user_item=0: users and items can no longer share a component."""
    from lmrepro.rec.indexing.graph import joint_affinity

    cat = Catalog.from_interactions(beauty_small)
    g, _ = joint_affinity(interaction_matrix(beauty_small, cat), None, GraphConfig(w_user_item=0.0))
    n_comp, comp = g.components()
    users, items = set(comp[: cat.n_users]), set(comp[cat.n_users :])
    assert not users & items
    _, ref = sp.csgraph.connected_components(g.explicit(), directed=False)
    assert adjusted_rand_score(ref, comp) == 1.0


# Digests of the index tables built by k-means labels before assign_labels existed
# (beauty_small, _cfg, seed 0): the default must stay bit-identical.
KMEANS_DIGESTS = {"sci": "e76902d60efb7f79", "cid": "31ded5b8310aaf28"}


def _digest(table: pd.DataFrame) -> str:
    import hashlib

    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()[:16]


@pytest.mark.parametrize("alg", sorted(KMEANS_DIGESTS))
def test_kmeans_default_is_unchanged(beauty_small, alg):
    default, _ = build_index(beauty_small, _cfg(alg), seed=0)
    explicit = IndexConfig(algorithm=alg, spectral=SpectralConfig(n_clusters=5, max_leaf=60, n_init=2, assign_labels="kmeans"))
    assert _digest(default) == KMEANS_DIGESTS[alg]
    pd.testing.assert_frame_equal(default, build_index(beauty_small, explicit, seed=0)[0])


@pytest.mark.parametrize("alg", ["sci", "cid"])
def test_cluster_qr_gives_a_valid_deterministic_index(beauty_small, alg):
    cfg = IndexConfig(algorithm=alg, spectral=SpectralConfig(n_clusters=5, max_leaf=60, n_init=2, assign_labels="cluster_qr"))
    a, sa = build_index(beauty_small, cfg, seed=0)
    b, sb = build_index(beauty_small, cfg, seed=0)
    pd.testing.assert_frame_equal(a, b)
    assert sa == sb
    check_unique(a)
    cat = Catalog.from_interactions(beauty_small)
    assert sorted(a[a.kind == "item"].entity) == sorted(cat.items)
    assert _digest(a) != KMEANS_DIGESTS[alg]  # the option reaches the clustering


def test_cluster_qr_recovers_blocks():
    a = _blocks(size=120)
    labels = spectral_clustering(a, 4, seed=0, assign_labels="cluster_qr")
    assert adjusted_rand_score(np.repeat(np.arange(4), 120), labels) == 1.0
    assert list(labels[np.sort(np.unique(labels, return_index=True)[1])]) == [0, 1, 2, 3]  # canonical numbering


def test_unknown_assign_labels_names_the_key():
    with pytest.raises(LmreproError, match="assign_labels='qr'"):
        SpectralConfig(assign_labels="qr")
    with pytest.raises(LmreproError, match="assign_labels"):
        spectral_clustering(_blocks(size=20), 2, assign_labels="discretize")
