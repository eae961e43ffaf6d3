"""Multi-task classifier: a pretrained encoder, an adapter module in the top block(s), and
one classification head per task.

The encoder's lower blocks run unchanged (and can be cached, see features.py); each
adapted top block runs attention and the FFN as pretrained, then the adapter module acts
on the FFN output before the residual + LayerNorm (Houlsby's FFN position):
``out = LayerNorm(attn + M(dropout(W2 gelu(W1 attn)), task))``.

Adapter kinds: ``mixture`` (MTA), ``shared`` (one adapter for all tasks), ``fusion``
(AdapterFusion), ``none`` (plain encoder, for full fine-tuning).
Sentence vector: mean over tokens, as all-MiniLM-L6-v2 was trained.

Dimensions: B batch, S tokens, H hidden, C labels of the task.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta.backbone import check_encoder, extended_mask
from lmrepro.mta.fusion import AdapterFusion
from lmrepro.mta.mixture import MixtureConfig, MixtureOfTaskAdapters, task_index

KINDS = ("mixture", "shared", "fusion", "none")


def make_adapter(kind: str, hidden: int, tasks: list[str], cfg: MixtureConfig) -> nn.Module:
    if kind == "mixture":
        return MixtureOfTaskAdapters(hidden, tasks, cfg)
    if kind == "shared":
        return MixtureOfTaskAdapters(hidden, tasks, replace(cfg, n_shared=1), task_experts=False)
    if kind == "fusion":
        return AdapterFusion(hidden, tasks, cfg)
    raise LmreproError(f"unknown adapter kind {kind!r}; expected one of {KINDS}")


class MtaClassifier(nn.Module):
    """Encoder + adapters in the top ``cfg.blocks`` blocks + per-task heads."""

    def __init__(self, encoder: nn.Module, tasks: dict[str, int], cfg: MixtureConfig, kind: str,
                 head_dropout: float = 0.1) -> None:
        super().__init__()
        check_encoder(encoder, "model")
        if kind not in KINDS:
            raise LmreproError(f"unknown adapter kind {kind!r}; expected one of {KINDS}")
        layers = encoder.encoder.layer
        if cfg.blocks > len(layers):
            raise LmreproError(f"mta mixture.blocks={cfg.blocks} exceeds the backbone's {len(layers)} blocks")
        self.encoder_config = encoder.config
        self.task_names = list(tasks)
        self.n_labels = dict(tasks)
        self.kind = kind
        self.cfg = cfg
        hidden = encoder.config.hidden_size
        self.embeddings = encoder.embeddings
        self.layers = layers
        self.first_adapted = len(layers) - cfg.blocks
        self.adapters = nn.ModuleDict()
        if kind != "none":
            for i in range(self.first_adapted, len(layers)):
                self.adapters[str(i)] = make_adapter(kind, hidden, self.task_names, cfg)
        self.head_dropout = nn.Dropout(head_dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(hidden, n) for t, n in tasks.items()})

    # ---- the two halves -------------------------------------------------------------
    def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              token_type_ids: torch.Tensor) -> torch.Tensor:
        """Embeddings + the blocks below the first adapted one: [B, S] ids -> [B, S, H]."""
        h = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        ext = extended_mask(attention_mask, h.dtype)
        for layer in self.layers[: self.first_adapted]:
            h = layer(h, ext)
        return h

    def front(self, h: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pre-adapter part of the first adapted block: attention output and FFN output.

        With a frozen backbone these do not depend on anything trained, so the feature
        cache stores them: [B, S, H] -> (attn [B, S, H], ffn [B, S, H]).
        """
        ext = extended_mask(attention_mask, h.dtype)
        return self._front(self.first_adapted, h, ext)

    def upper(self, h: torch.Tensor, attention_mask: torch.Tensor, task: str) -> torch.Tensor:
        """Adapted top blocks + mean pooling + the task's head: [B, S, H] -> [B, C]."""
        attn, ffn = self.front(h, attention_mask)
        return self.upper_from_front(attn, ffn, attention_mask, task)

    def upper_from_front(self, attn: torch.Tensor, ffn: torch.Tensor, attention_mask: torch.Tensor,
                         task: str) -> torch.Tensor:
        """Everything from the first adapter on: ([B, S, H], [B, S, H]) -> logits [B, C]."""
        task_index(self.task_names, task)
        ext = extended_mask(attention_mask, attn.dtype)
        h = self._back(self.first_adapted, attn, ffn, task)
        for i in range(self.first_adapted + 1, len(self.layers)):
            h = self._back(i, *self._front(i, h, ext), task)
        m = attention_mask.to(h.dtype).unsqueeze(-1)  # [B, S, 1]
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)  # [B, H]
        return self.heads[task](self.head_dropout(pooled))

    def _front(self, i: int, h: torch.Tensor, ext: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        layer = self.layers[i]
        attn = layer.attention(h, attention_mask=ext)[0]  # [B, S, H]
        ffn = layer.output.dropout(layer.output.dense(layer.intermediate(attn)))  # [B, S, H]
        return attn, ffn

    def _back(self, i: int, attn: torch.Tensor, ffn: torch.Tensor, task: str) -> torch.Tensor:
        if self.kind != "none":
            ffn = self.adapters[str(i)](ffn, task)
        return self.layers[i].output.LayerNorm(ffn + attn)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor, task: str) -> torch.Tensor:
        return self.upper(self.lower(input_ids, attention_mask, token_type_ids), attention_mask, task)

    # ---- routing and parameter groups ----------------------------------------------
    def set_routing(self, routing: str) -> None:
        for module in self.adapters.values():
            if isinstance(module, MixtureOfTaskAdapters):
                module.set_routing(routing)

    def backbone_param_names(self) -> list[str]:
        return [n for n, _ in self.named_parameters() if n.startswith(("embeddings.", "layers."))]

    def adapter_param_names(self) -> list[str]:
        return [n for n, _ in self.named_parameters() if n.startswith(("adapters.", "heads."))]
