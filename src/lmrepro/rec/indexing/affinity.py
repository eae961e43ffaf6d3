"""Affinity graphs as operators: what spectral clustering needs from a graph (degrees,
products with vectors, connected components, node subsets), without insisting that the
graph be stored edge by edge.

`SparseAffinity` wraps an explicit symmetric scipy.sparse matrix (any graph, e.g. the
tests' block graphs). `FactoredAffinity` is the SCI/CID graph kept as the interaction
matrices it is made of. Its co-occurrence blocks are X X^T - diag (users sharing an
item) and B^T B - diag (items sharing a user), so a product with a vector costs
O(interactions): on full Beauty ~0.3M non-zeros instead of the ~7.3M edges of the
explicit graph (user-user co-purchase dominates). That is what makes the ARPACK
iterations cheap; the edges are never materialised, so memory is O(interactions) too.

Node order: the subset's users first, then its items (as graph.joint_graph)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import LinearOperator


class SparseAffinity:
    """An explicit symmetric non-negative [n, n] affinity matrix."""

    def __init__(self, a: sp.spmatrix):
        self.a = sp.csr_matrix(a, dtype=np.float64)

    @property
    def n(self) -> int:
        return self.a.shape[0]

    def degrees(self) -> np.ndarray:
        return np.asarray(self.a.sum(axis=1)).ravel()

    def components(self) -> tuple[int, np.ndarray]:
        return connected_components(self.a, directed=False)

    def subgraph(self, idx: np.ndarray) -> "SparseAffinity":
        return SparseAffinity(self.a[idx][:, idx])

    def normalized(self, dinv: np.ndarray):
        """D^-1/2 A D^-1/2 as a sparse matrix (eigsh's fastest input)."""
        inv = sp.diags(dinv)
        return (inv @ self.a @ inv).tocsr()

    def normalized_dense(self, dinv: np.ndarray) -> np.ndarray:
        return self.normalized(dinv).toarray()


class FactoredAffinity:
    """w_uu (X X^T - diag) | w_ui B ; w_ui B^T | w_ii (B^T B - diag), restricted to the
    users `users` and items `items` (indices into the rows/columns of B and X).

    b: [U, I] train interactions; x: [U, I] what user-user co-purchase is counted on (b,
    or the full lists for the leak ablation); both are binarized. Co-occurrence counts run
    over ALL items (users) even in a subset, exactly as slicing the explicit graph would."""

    def __init__(self, b, x, w_uu: float, w_ui: float, w_ii: float, users=None, items=None, _root=None):
        if _root is None:
            self.b, self.x = _binary(b), _binary(x)
            self.b_csc = self.b.tocsc()  # column slices of a subset cost O(its interactions)
        else:  # a subgraph shares its root's matrices
            self.b, self.x, self.b_csc = _root.b, _root.x, _root.b_csc
        if self.b.shape != self.x.shape:
            raise ValueError(f"FactoredAffinity: b {self.b.shape} and x {self.x.shape} differ in shape")
        self.w_uu, self.w_ui, self.w_ii = float(w_uu), float(w_ui), float(w_ii)
        self.users = np.arange(self.b.shape[0]) if users is None else np.asarray(users, dtype=np.int64)
        self.items = np.arange(self.b.shape[1]) if items is None else np.asarray(items, dtype=np.int64)
        # the subset's blocks, each O(interactions)
        self.xs = self.x[self.users]  # [S, I] user-user co-purchase runs over all items
        self.xs_t = self.xs.T.tocsr()
        self.bt = self.b_csc[:, self.items].tocsr()  # [U, T] item-item co-occurrence over all users
        self.bt_t = self.bt.T.tocsr()
        self.bst = self.bt[self.users]  # [S, T] user-item edges inside the subset
        self.bst_t = self.bst.T.tocsr()
        self.dx = np.asarray(self.xs.sum(axis=1)).ravel()  # diag of X_S X_S^T
        self.db = np.asarray(self.bt.sum(axis=0)).ravel()  # diag of B_T^T B_T

    @property
    def n(self) -> int:
        return len(self.users) + len(self.items)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """A v for v: [n] or [n, m]."""
        s = len(self.users)
        vu, vi = v[:s], v[s:]
        shape = (-1,) + (1,) * (v.ndim - 1)
        yu = self.w_ui * (self.bst @ vi)
        yi = self.w_ui * (self.bst_t @ vu)
        if self.w_uu:
            yu = yu + self.w_uu * (self.xs @ (self.xs_t @ vu) - self.dx.reshape(shape) * vu)
        if self.w_ii:
            yi = yi + self.w_ii * (self.bt_t @ (self.bt @ vi) - self.db.reshape(shape) * vi)
        return np.concatenate([yu, yi])

    def degrees(self) -> np.ndarray:
        return self.matvec(np.ones(self.n))

    def components(self) -> tuple[int, np.ndarray]:
        """Components of the affinity graph via a skeleton with the same connectivity:
        real nodes plus one auxiliary node per item (links users that co-purchased it)
        and per user (links items it co-purchased), so no co-occurrence is formed."""
        s, t = len(self.users), len(self.items)
        n_i, n_u = self.x.shape[1], self.b.shape[0]
        n = s + t + n_i + n_u
        blocks = []
        if self.w_ui:
            blocks.append(_edges(self.bst, 0, s, n))
        if self.w_uu:
            blocks.append(_edges(self.xs, 0, s + t, n))  # user -> aux item
        if self.w_ii:
            blocks.append(_edges(self.bt_t, s, s + t + n_i, n))  # item -> aux user
        skel = sum(blocks[1:], blocks[0]) if blocks else sp.csr_matrix((n, n))
        _, lab = connected_components(skel, directed=False)
        # renumber the real nodes' components 0..c-1 in order of first appearance
        _, real = np.unique(lab[: s + t], return_inverse=True)
        return int(real.max()) + 1 if len(real) else 0, real

    def subgraph(self, idx: np.ndarray) -> "FactoredAffinity":
        idx = np.asarray(idx)
        s = len(self.users)
        u, i = idx[idx < s], idx[idx >= s] - s
        if not (np.all(np.diff(idx) > 0) or len(idx) < 2):
            raise ValueError("FactoredAffinity.subgraph: indices must be increasing (users stay first)")
        return FactoredAffinity(None, None, self.w_uu, self.w_ui, self.w_ii, self.users[u], self.items[i], _root=self)

    def normalized(self, dinv: np.ndarray) -> LinearOperator:
        def mv(v):
            v = np.asarray(v)
            d = dinv if v.ndim == 1 else dinv[:, None]
            return d * self.matvec(d * v)

        return LinearOperator((self.n, self.n), matvec=mv, matmat=mv, dtype=np.float64)

    def explicit(self) -> sp.csr_matrix:
        """The same graph, edge by edge (small subsets, tests and the dense reference)."""
        uu = (self.xs @ self.xs_t).tocsr()
        uu.setdiag(0)
        ii = (self.bt_t @ self.bt).tocsr()
        ii.setdiag(0)
        a = sp.bmat([[self.w_uu * uu, self.w_ui * self.bst], [self.w_ui * self.bst_t, self.w_ii * ii]], format="csr")
        a.eliminate_zeros()
        return a

    def normalized_dense(self, dinv: np.ndarray) -> np.ndarray:
        return SparseAffinity(self.explicit()).normalized_dense(dinv)


def _binary(m) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float64, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.data[:] = 1.0
    return m


def _edges(m: sp.csr_matrix, row0: int, col0: int, n: int) -> sp.csr_matrix:
    """[n, n] matrix with m's pattern placed at (row0, col0)."""
    coo = m.tocoo()
    return sp.csr_matrix((np.ones(coo.nnz), (coo.row + row0, coo.col + col0)), shape=(n, n))


def as_affinity(a) -> SparseAffinity | FactoredAffinity:
    return a if isinstance(a, (SparseAffinity, FactoredAffinity)) else SparseAffinity(a)
