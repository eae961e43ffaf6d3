"""Score methods on the test split: exact match per example, accuracy vs distance.

Methods (each a function (encoder, rows) -> :class:`Scored`):
- ``none``: the base model as is (forgetting shows here).
- ``repeat``: the prompt repeated right before the query (upper bound: no distance left).
- ``oracle``: one true-gradient step on the prompt-reconstruction loss at test time
  (expensive: a backward pass per prompt), applied like a ProSG update.
- ``random``: a random update of the same rank and the same Frobenius norm as ProSG's.
- ``prosg``: the trained generator's update.
- ``prosg_other``: the same trained generator fed the states of another test prompt of
  the same kind (drawn at random, never the item's own prompt text): a trained update
  that helps long inputs but carries the wrong prompt. Same kind, so the control keeps
  the prompt's format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch

from lmrepro.prosg.sequences import Batch, Encoder, answer_correct
from lmrepro.prosg.synthetic_gradient import (
    LowRankUpdate,
    ProsgGenerator,
    applied,
    generate_update,
    prompt_gradient,
    random_update,
)



@dataclass
class Scored:
    """What a method gives for one batch: exact-match flags and the predicted tokens."""

    correct: torch.Tensor  # (B,) bool
    predicted: list[list[int]]  # per row, the argmax token at each answer position (teacher-forced)


Method = Callable[[Encoder, pd.DataFrame], Scored]


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _score(model, batch: Batch, update: LowRankUpdate | None) -> Scored:
    with applied(model, update, start=batch.update_from):
        logits = model(input_ids=batch.ids, use_cache=False).logits  # (b, T, V)
    argmax = logits.argmax(-1).cpu()  # (b, T)
    mask = (batch.labels != -100).cpu()  # (b, T)
    predicted = [row[keep].tolist() for row, keep in zip(argmax, mask)]
    return Scored(answer_correct(logits, batch.labels), predicted)


def decode_prediction(encoder: Encoder, ids: list[int]) -> str:
    """The predicted answer string: tokens up to (not including) the first end token,
    decoded, without the space that joins the answer to the query."""
    if encoder.end in ids:
        ids = ids[: ids.index(encoder.end)]
    return encoder.tok.decode(ids, skip_special_tokens=False).strip()


def method_none(model) -> Method:
    return lambda enc, rows: _score(model, enc.batch(rows, device=_device(model)), None)


def method_repeat(model) -> Method:
    return lambda enc, rows: _score(model, enc.batch(rows, repeat_prompt=True, device=_device(model)), None)


def method_prosg(model, generator: ProsgGenerator, eta: float | None = None) -> Method:
    def run(enc, rows):
        batch = enc.batch(rows, device=_device(model))
        with torch.no_grad():
            update = generate_update(model, generator, batch.prompt_ids, batch.prompt_len)
        if eta is not None:
            update.eta = eta
        return _score(model, batch, update)

    return run


def method_prosg_other(model, generator: ProsgGenerator, donors: pd.DataFrame, seed: int) -> Method:
    """ProSG's update generated from a random other prompt of the same kind (from ``donors``);
    the update still starts at the item's own prompt end. "Other" means another prompt
    TEXT, not only another item: passkey and format prompts repeat across items (the same
    passkey or rule word), and such a donor would carry the right answer."""
    rng = np.random.default_rng(seed)
    by_kind = {k: g.reset_index(drop=True) for k, g in donors.groupby("kind")}

    def run(enc, rows):
        picks = []
        for row in rows.itertuples(index=False):
            pool = by_kind.get(row.kind)
            others = pool.index[pool["prompt"] != row.prompt] if pool is not None else []
            if len(others) == 0:
                raise ValueError(f"no other prompt of kind {row.kind!r} to feed the control for {row.uid}")
            picks.append(pool.loc[others[int(rng.integers(len(others)))]])
        batch = enc.batch(rows, device=_device(model))
        other = enc.batch(pd.DataFrame(picks), device=_device(model))
        with torch.no_grad():
            update = generate_update(model, generator, other.prompt_ids, other.prompt_len)
        return _score(model, batch, update)

    return run


def method_oracle(model, names: list[str], lr: float) -> Method:
    def run(enc, rows):
        batch = enc.batch(rows, device=_device(model))
        update = prompt_gradient(model, names, batch.prompt_ids, batch.prompt_len, lr=lr)
        return _score(model, batch, update)

    return run


def method_random(model, generator: ProsgGenerator, seed: int) -> Method:
    """Same rank and per-example norm as the ProSG update, random directions."""
    calls = iter(range(10**9))

    def run(enc, rows):
        batch = enc.batch(rows, device=_device(model))
        with torch.no_grad():
            norm = generate_update(model, generator, batch.prompt_ids, batch.prompt_len).frobenius()
        update = random_update(generator.shapes, len(batch), generator.cfg.rank, generator.cfg.eta, norm,
                               seed=seed + next(calls))
        return _score(model, batch, update)

    return run


def evaluate(methods: dict[str, Method], encoder: Encoder, examples: pd.DataFrame, batch_size: int,
             progress=lambda it, **kw: it) -> pd.DataFrame:
    """Per-example outcome of every method: columns uid, kind, distance, method, correct
    (bool), prediction (see :func:`decode_prediction`) and answer (the gold string)."""
    # batches of one distance keep padding small (lengths within a distance are similar)
    examples = examples.sort_values(["distance", "kind", "uid"]).reset_index(drop=True)
    out = []
    for name, fn in methods.items():
        for start in progress(range(0, len(examples), batch_size), desc=f"eval {name}"):
            rows = examples.iloc[start : start + batch_size]
            scored = fn(encoder, rows)
            out.append(pd.DataFrame({"uid": rows["uid"].values, "kind": rows["kind"].values,
                                     "distance": rows["distance"].values, "method": name,
                                     "correct": scored.correct.tolist(),
                                     "prediction": [decode_prediction(encoder, ids) for ids in scored.predicted],
                                     "answer": rows["answer"].values}))
    return pd.concat(out, ignore_index=True)


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 60  # forward-only batches; one distance per batch keeps padding low
    oracle_lrs: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0])  # picked on valid, reported on test
    eta_scales: list[float] = field(default_factory=lambda: [0.5, 2.0])  # test-time eta multipliers (cheap sweep)
    random_seed: int = 0  # seed of the random-update baseline
    rank_candidates: list[str] = field(default_factory=lambda: ["main"])  # rank variants chosen from on valid
