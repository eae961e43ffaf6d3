"""Choices eval_prosg makes on the validation split, per seed, before it reads test.

One rule for all of them (:func:`best_on_valid`): score each candidate on the whole valid
split, keep the best pooled accuracy, break ties by a stated preference. Three choices use it:

- the oracle's step size (its true-gradient step, from prosg.eval.oracle_lrs; ties: smaller);
- the gradient-regression generator's eta: it is trained to reproduce the true gradient at
  step size 1 (lmrepro.prosg.train.regression_loss), so its eta is a test-time step size, the
  same quantity as the oracle's, picked from the same grid the same way. The end-to-end
  generators need no such choice: they learn the scale of their update;
- the ProSG line's rank: the rank sweep (prosg.eval.rank_candidates, variants trained alike but
  for their rank) scored as they are; ties: the first listed.
"""

from __future__ import annotations

from typing import Callable, Hashable, Sequence

import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.prosg.scoring import Method, evaluate, method_oracle, method_prosg
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.synthetic_gradient import ProsgGenerator


def best_on_valid(candidates: Sequence[Hashable], method_of: Callable[[Hashable], Method], encoder: Encoder,
                  valid: pd.DataFrame, batch_size: int, prefer: Callable[[Hashable], float],
                  what: str) -> tuple[Hashable, dict]:
    """The candidate with the best pooled valid accuracy (ties: the larger ``prefer``) and
    every candidate's accuracy."""
    if not candidates:
        raise LmreproError(f"{what}: no candidates to choose from")
    scores = {}
    for cand in candidates:
        res = evaluate({str(cand): method_of(cand)}, encoder, valid, batch_size)
        scores[cand] = float(res["correct"].mean())
    return max(candidates, key=lambda c: (scores[c], prefer(c))), scores


def pick_oracle_lr(model, names: list[str], encoder: Encoder, valid: pd.DataFrame, lrs: list[float],
                   batch_size: int) -> tuple[float, dict[float, float]]:
    """The oracle's step size (ties: the smaller step)."""
    return best_on_valid(lrs, lambda lr: method_oracle(model, names, lr), encoder, valid, batch_size,
                         prefer=lambda lr: -lr, what="oracle step size (prosg.eval.oracle_lrs is empty)")


def pick_eta(model, generator: ProsgGenerator, encoder: Encoder, valid: pd.DataFrame, etas: list[float],
             batch_size: int) -> tuple[float, dict[float, float]]:
    """The gradient-regression generator's eta (ties: the smaller step)."""
    return best_on_valid(etas, lambda eta: method_prosg(model, generator, eta=eta), encoder, valid, batch_size,
                         prefer=lambda eta: -eta, what="pick_eta (prosg.eval.oracle_lrs is empty)")


def pick_rank(model, generators: dict[str, ProsgGenerator], candidates: list[str], encoder: Encoder,
              valid: pd.DataFrame, batch_size: int) -> tuple[str, dict[str, float]]:
    """The rank variant whose generator scores best (ties: the first of ``candidates``)."""
    missing = [c for c in candidates if c not in generators]
    if missing:
        raise LmreproError(f"prosg.eval.rank_candidates: no generator for {missing} "
                           f"(trained: {', '.join(sorted(generators))})")
    order = {c: i for i, c in enumerate(candidates)}
    return best_on_valid(candidates, lambda c: method_prosg(model, generators[c]), encoder, valid, batch_size,
                         prefer=lambda c: -order[c], what="prosg.eval.rank_candidates")
