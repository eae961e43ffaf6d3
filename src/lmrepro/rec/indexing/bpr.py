"""BPR matrix factorisation (Rendle et al. 2009), trained here because the official GCI
script expects embeddings trained elsewhere. Loss: -log sigmoid(<u,i+> - <u,i->) + L2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from lmrepro.errors import LmreproError


@dataclass(frozen=True)
class BprConfig:
    dim: int = 64  # official GCI: 64-d embeddings (4 chunks x 16)
    epochs: int = 20  # enough for the ranking loss to flatten on Beauty-sized data
    lr: float = 0.01  # Adam; BPR with Adam is insensitive in 1e-3..1e-2
    weight_decay: float = 1e-5  # L2 on the touched embeddings
    batch_size: int = 2048  # large batches: CPU throughput, same optimum
    init_std: float = 0.1


def train_bpr(train: sp.csr_matrix, cfg: BprConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """train: [U, I] binary -> (user emb [U, d], item emb [I, d]); negatives uniform."""
    if train.nnz == 0:
        raise LmreproError("BPR needs at least one training interaction")
    g = torch.Generator().manual_seed(seed)
    n_u, n_i = train.shape
    coo = train.tocoo()
    users = torch.from_numpy(coo.row.astype(np.int64))
    pos = torch.from_numpy(coo.col.astype(np.int64))
    eu = torch.nn.Parameter(torch.randn(n_u, cfg.dim, generator=g) * cfg.init_std)
    ei = torch.nn.Parameter(torch.randn(n_i, cfg.dim, generator=g) * cfg.init_std)
    opt = torch.optim.Adam([eu, ei], lr=cfg.lr)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(users), generator=g)
        neg_all = torch.randint(0, n_i, (len(users),), generator=g)
        for s in range(0, len(perm), cfg.batch_size):
            b = perm[s : s + cfg.batch_size]
            u, p, n = eu[users[b]], ei[pos[b]], ei[neg_all[b]]  # [b, d]
            x = (u * (p - n)).sum(-1)  # [b]
            loss = -torch.nn.functional.logsigmoid(x).mean()
            loss = loss + cfg.weight_decay * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / len(b)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return eu.detach().numpy().astype(np.float64), ei.detach().numpy().astype(np.float64)
