"""AdapterFusion (Pfeiffer et al. 2021), the classic two-stage baseline.

Stage 1 trains one adapter per task (shared with MTA's stage 1); stage 2 freezes them and
learns, per task, an attention over the adapters' outputs at every token:
``score_k = <Q y, K o_k>``, ``out = sum_k softmax_k(score) V o_k`` with ``o_k = y + A_k(y)``.
V starts as the identity so fusion starts at the mean of the adapter outputs. Unlike MTA's
gate, the weights depend on the token (more parameters, more compute).

Dimensions: B batch, S tokens, H hidden, K adapters.
"""

from __future__ import annotations

import torch
from torch import nn

from lmrepro.mta.adapter import BottleneckAdapter
from lmrepro.mta.mixture import MixtureConfig, task_index


class FusionHead(nn.Module):
    """Query/key/value projections of one task's fusion layer."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        for layer in (self.query, self.key):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)
        nn.init.eye_(self.value.weight)
        nn.init.zeros_(self.value.bias)


class AdapterFusion(nn.Module):
    """Per-task token-level attention over frozen task adapters."""

    def __init__(self, hidden: int, tasks: list[str], cfg: MixtureConfig) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.cfg = cfg
        self.task_adapters = nn.ModuleList(
            BottleneckAdapter(hidden, cfg.bottleneck, cfg.dropout) for _ in tasks
        )
        self.fusion = nn.ModuleList(FusionHead(hidden) for _ in tasks)

    def forward(self, y: torch.Tensor, task: str) -> torch.Tensor:
        # y: [B, S, H]
        t = task_index(self.tasks, task)
        head = self.fusion[t]
        outs = torch.stack([y + adapter(y) for adapter in self.task_adapters], dim=2)  # [B, S, K, H]
        q = head.query(y)  # [B, S, H]
        k = head.key(outs)  # [B, S, K, H]
        v = head.value(outs)  # [B, S, K, H]
        attn = torch.softmax(torch.einsum("bsh,bskh->bsk", q, k), dim=-1)  # [B, S, K]
        return torch.einsum("bsk,bskh->bsh", attn, v)
