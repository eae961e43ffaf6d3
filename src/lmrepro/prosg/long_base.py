"""Continue pre-training a base LM on the generator's whole distance range.

Why: the short base (prosg.pretrain) never sees more than ``prosg.pretrain.max_distance``
words of filler, while the generators are trained and tested up to 256. Its "forgetting"
at long distance therefore mixes two things: memory (the state cannot carry the prompt)
and length generalisation (it was never trained on inputs that long). A base that HAS
practised the whole range separates them: whatever forgetting and ProSG gain remain on it
are not a length-generalisation artefact.

Why a continuation and not a second pre-training from scratch: steps at 256 words cost
~10x a short step (RWKV's CPU recurrence runs once per token), and 800 such steps per seed
do not fit the CPU budget. The long base is the short base of the same seed plus
``steps`` more steps on every distance, so the two bases differ only by that practice.

Each step's task rows share ONE distance, drawn uniformly from the range
(lmrepro.prosg.batching): a step costs the mean length, not the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from lmrepro.prosg.batching import distance_pools, draw_batch
from lmrepro.prosg.pretrain import run_steps
from lmrepro.prosg.sequences import Encoder


@dataclass(frozen=True)
class LongBaseConfig:
    steps: int = 200  # continuation steps after the short base's prosg.pretrain.steps
    batch_task: int = 16  # task examples per step, all of one distance
    batch_text: int = 4  # corpus windows per step: keeps it a language model
    text_length: int = 64
    lr: float = 2e-3  # lower than the from-scratch peak: the weights are already trained
    warmup: int = 10  # linear warm-up, then cosine decay to 10%
    weight_decay: float = 0.01
    answer_weight: float = 20.0  # as prosg.pretrain: answer tokens are few among filler tokens
    clip: float = 1.0
    max_distance: int = 256  # practise every distance up to this (the generator's range)


def continue_pretrain(model: nn.Module, encoder: Encoder, examples: pd.DataFrame, texts: list[str],
                      cfg: LongBaseConfig, seed: int, progress=lambda it, **kw: it, log=None, device="cpu",
                      amp: bool = False) -> list[dict]:
    """Train ``model`` (already pre-trained) in place; one record per step: the distance
    practised and the two losses (the loop is lmrepro.prosg.pretrain.run_steps)."""
    in_range = examples[examples["distance"] <= cfg.max_distance]
    if in_range.empty:
        raise ValueError(f"no task examples with distance <= {cfg.max_distance}")
    pools = distance_pools(in_range, cfg.batch_task, "prosg.long_base.batch_task")

    def draw(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
        distance, rows = draw_batch(pools, cfg.batch_task, rng)
        return rows, {"distance": distance}

    # its own stream: the short base's batches came from default_rng(seed)
    return run_steps(model, encoder, texts, cfg, np.random.default_rng([seed, 256]), draw, "pretrain_long",
                     progress=progress, log=log, device=device, amp=amp)
