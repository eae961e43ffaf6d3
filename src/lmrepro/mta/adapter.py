"""Bottleneck adapter (Houlsby et al. 2019): down-project, non-linearity, up-project.

Why zero-initialised up-projection: a fresh adapter is the identity map on its input, so
inserting it into a pretrained block does not disturb the backbone before training.
"""

from __future__ import annotations

import torch
from torch import nn


class BottleneckAdapter(nn.Module):
    """Returns the adapter's *delta*; the caller adds it to its input (residual)."""

    def __init__(self, hidden: int, bottleneck: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.down = nn.Linear(hidden, bottleneck)
        self.up = nn.Linear(bottleneck, hidden)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        # y: [B, S, H] -> [B, S, bottleneck] -> [B, S, H]
        return self.up(self.dropout(nn.functional.gelu(self.down(y))))
