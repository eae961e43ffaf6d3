"""Train the ProSG generator with the base LM frozen.

Two objectives (weights are params, so either or both can be used):

- ``answer``: end to end. The update generated from the prompt states is applied from
  the prompt's end, the filler and query run through the updated model, and the loss is
  the cross-entropy of the answer tokens. Backpropagates through the whole sequence.
- ``regress``: the literal synthetic-gradient reading. The generator's A B^T is regressed
  onto the true gradient G of the prompt-reconstruction loss (next-token loss on the
  prompt), relative error ||A B^T - G||^2 / ||G||^2. Needs only the prompt, so it is
  much cheaper per step; with eta equal to the oracle's step size, a perfect fit
  reproduces the oracle's test-time gradient step.

Each step's batch holds one filler distance, drawn uniformly (lmrepro.prosg.batching), so
a step pays for its own length instead of the longest in a mixed batch.

``shuffle_states`` trains the prompt-ignoring control: every example's update is
generated from ANOTHER example's prompt states (a random cyclic shift within the batch,
which never maps an example to itself), so the generator can learn any update that helps
long inputs but nothing about the prompt it should recall. The shifts come from their own
random stream, so with the same seed the control is trained on exactly main's batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from lmrepro.config import from_dict
from lmrepro.prosg.batching import distance_pools, draw_batch
from lmrepro.prosg.sequences import Encoder, answer_loss
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator, applied, prompt_gradient, prompt_states
from lmrepro.runtime import autocast


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 150  # end-to-end steps cost a full forward/backward through the filler
    batch_size: int = 24
    lr: float = 1e-3  # Adam on a fresh MLP
    answer_weight: float = 1.0  # weight of the end-to-end answer loss
    regress_weight: float = 0.0  # weight of the regression onto the true prompt gradient
    min_distance: int = 1  # train where forgetting happens; distance 0 has nothing to forget
    shuffle_states: bool = False  # the control: states of another example's prompt (see the module doc)


UPDATE_KEYS = ("rank", "eta")  # variant keys that belong to the update, the rest to training


def variant_configs(update: dict, train: dict, variant: dict, where: str) -> tuple[ProsgConfig, TrainConfig]:
    """The update and training configs of one prosg.variants entry (``where`` names it in errors)."""
    return (from_dict(ProsgConfig, {**update, **{k: variant[k] for k in UPDATE_KEYS}}, where),
            from_dict(TrainConfig, {**train, **{k: v for k, v in variant.items() if k not in UPDATE_KEYS}}, where))


def shifted(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) with no fixed point: a random cyclic shift by 1..n-1."""
    if n < 2:
        raise ValueError("shuffled prompt states need batches of at least 2 examples (prosg.train.batch_size)")
    return (np.arange(n) + int(rng.integers(1, n))) % n


def regression_loss(update, target) -> torch.Tensor:
    """Mean over examples and targets of ||A B^T - G||^2 / ||G||^2 (eta-free)."""
    losses = []
    for name in update.factors:
        a, b = update.factors[name]
        ga, gb = target.factors[name]
        pred = torch.einsum("bor,bir->boi", a, b)  # (b, o, i)
        true = torch.einsum("bop,bip->boi", ga, gb)  # (b, o, i)
        losses.append((pred - true).pow(2).sum((1, 2)) / true.pow(2).sum((1, 2)).clamp_min(1e-12))
    return torch.stack(losses).mean()


def train_generator(model: nn.Module, generator: ProsgGenerator, encoder: Encoder, examples: pd.DataFrame,
                    cfg: TrainConfig, seed: int, progress=lambda it, **kw: it, log=None,
                    amp: bool = False, checkpoints: Iterable[int] = (),
                    on_checkpoint: Callable[[int], None] | None = None) -> list[dict]:
    """Train ``generator`` in place on the model's device; the base model must be frozen.

    ``on_checkpoint(steps_done)`` runs after each step count in ``checkpoints``, with the
    generator in eval mode (the validation search scores it there). It must not draw from
    the batch streams: a run with checkpoints trains exactly as one without."""
    checkpoints = set(checkpoints)
    if any(p.requires_grad for p in model.parameters()):
        raise ValueError("the base model must be frozen before training the generator")
    pool = examples[examples["distance"] >= cfg.min_distance] if cfg.answer_weight > 0 else examples
    # one distance per batch (lmrepro.prosg.batching): a step costs its own length, not 256 words
    pools = distance_pools(pool, cfg.batch_size, "prosg.train.batch_size")
    rng = np.random.default_rng(seed)
    shift_rng = np.random.default_rng([seed, 1])  # its own stream: the control sees main's very batches
    device = next(model.parameters()).device
    generator.to(device)
    opt = torch.optim.AdamW(generator.parameters(), lr=cfg.lr, weight_decay=0.0)
    generator.train()
    curve = []
    for step in progress(range(cfg.steps), desc="train_prosg", total=cfg.steps):
        distance, rows = draw_batch(pools, cfg.batch_size, rng)
        batch = encoder.batch(rows, device=device)
        with torch.no_grad():
            states = prompt_states(model, batch.prompt_ids, batch.prompt_len)  # (b, L*H)
        if cfg.shuffle_states:
            states = states[torch.as_tensor(shifted(len(rows), shift_rng), device=device)]
        update = generator(states)
        loss = torch.zeros((), device=device)
        record = {"step": step, "distance": distance}
        if cfg.answer_weight > 0:
            with applied(model, update, start=batch.update_from), autocast(device, amp):
                logits = model(input_ids=batch.ids, use_cache=False).logits  # (b, T, V)
            l_ans = answer_loss(logits, batch.labels)
            loss = loss + cfg.answer_weight * l_ans
            record["loss_answer"] = l_ans.item()
        if cfg.regress_weight > 0:
            target = prompt_gradient(model, generator.names, batch.prompt_ids, batch.prompt_len, lr=1.0)
            l_reg = regression_loss(update, target)
            loss = loss + cfg.regress_weight * l_reg
            record["loss_regress"] = l_reg.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(generator.parameters(), 1.0)
        opt.step()
        curve.append(record)
        if log is not None and (step % 25 == 0 or step == cfg.steps - 1):
            log(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
        if on_checkpoint is not None and step + 1 in checkpoints:
            generator.eval()
            on_checkpoint(step + 1)
            generator.train()
    generator.eval()
    return curve
