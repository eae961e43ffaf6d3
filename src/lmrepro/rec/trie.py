"""Prefix tree over the valid item-ID token sequences (each ending in EOS), stored as flat
arrays so beam search can look up allowed tokens and child nodes for a whole batch of
beams at once (no per-beam Python callback).

Layout (CSR): node 0 is the root; the children of node n are entries
child_ptr[n]:child_ptr[n+1] of (child_tok, child_node), sorted by token. `key` =
node * vocab_size + token is therefore sorted, so a transition is one searchsorted."""

from __future__ import annotations

import numpy as np
import torch

from lmrepro.errors import LmreproError
from lmrepro.rec.vocab import EOS


class Trie:
    def __init__(self, sequences: list[list[int]], vocab_size: int):
        """sequences[i]: token ids of item i WITHOUT the final EOS (added here)."""
        children: list[dict[int, int]] = [{}]
        item_of = [-1]
        for item, seq in enumerate(sequences):
            node = 0
            for tok in list(seq) + [EOS]:
                if not 0 <= tok < vocab_size:
                    raise LmreproError(f"trie: token {tok} of item {item} outside vocab {vocab_size}")
                nxt = children[node].get(tok)
                if nxt is None:
                    nxt = len(children)
                    children[node][tok] = nxt
                    children.append({})
                    item_of.append(-1)
                node = nxt
            if item_of[node] != -1:
                raise LmreproError(f"trie: items {item_of[node]} and {item} have the same ID")
            item_of[node] = item
        counts = np.array([len(c) for c in children], dtype=np.int64)
        self.child_ptr = np.concatenate([[0], np.cumsum(counts)])
        toks, nodes = [], []
        for c in children:
            for t in sorted(c):
                toks.append(t)
                nodes.append(c[t])
        self.vocab_size = vocab_size
        self.n_items = len(sequences)
        self.depth = max(len(s) for s in sequences) + 1  # incl. EOS
        self._ptr = torch.from_numpy(self.child_ptr)
        self._tok = torch.tensor(toks, dtype=torch.int64)
        self._child = torch.tensor(nodes, dtype=torch.int64)
        parent = torch.repeat_interleave(torch.arange(len(children)), torch.from_numpy(counts))
        self._key = parent * vocab_size + self._tok  # sorted
        self.item_of = torch.tensor(item_of, dtype=torch.int64)  # [nodes] item at EOS leaves
        self._children = children  # dict form, for single-sequence walks

    def allowed(self, node: int) -> list[int]:
        """Allowed next tokens after a node (for transformers' prefix_allowed_tokens_fn)."""
        return self._tok[self.child_ptr[node] : self.child_ptr[node + 1]].tolist()

    def walk(self, tokens: list[int]) -> int:
        """Node reached by a token prefix, -1 if the prefix is not in the trie."""
        node = 0
        for t in tokens:
            node = self._children[node].get(t, -1)
            if node < 0:
                return -1
        return node

    def mask(self, nodes: torch.Tensor) -> torch.Tensor:
        """nodes: [M] -> [M, V] additive mask, 0 where the token continues a valid ID."""
        m = nodes.numel()
        start, end = self._ptr[nodes], self._ptr[nodes + 1]
        counts = end - start  # [M]
        rows = torch.repeat_interleave(torch.arange(m), counts)
        first = torch.repeat_interleave(start - torch.cumsum(counts, 0) + counts, counts)
        cols = self._tok[first + torch.arange(rows.numel())]
        out = torch.full((m, self.vocab_size), float("-inf"))
        out[rows, cols] = 0.0
        return out

    def step(self, nodes: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """[M] nodes, [M] tokens -> [M] child nodes (-1 where the transition is invalid)."""
        key = nodes * self.vocab_size + tokens
        pos = torch.searchsorted(self._key, key).clamp(max=len(self._key) - 1)
        return torch.where(self._key[pos] == key, self._child[pos], torch.full_like(key, -1))
