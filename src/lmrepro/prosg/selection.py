"""Test-time step size of the gradient-regression generator, chosen on the validation split.

Why: that generator is trained to reproduce the true gradient of the prompt's
reconstruction loss at step size 1 (lmrepro.prosg.train.regression_loss), so its eta is a
test-time step size, the same quantity as the oracle's (scoring.pick_oracle_lr): it is
picked the same way, per seed, from the same grid (prosg.eval.oracle_lrs). The end-to-end
generators need no such choice: they learn the scale of their update.
"""

from __future__ import annotations

import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.prosg.scoring import evaluate, method_prosg
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.synthetic_gradient import ProsgGenerator


def pick_eta(model, generator: ProsgGenerator, encoder: Encoder, valid: pd.DataFrame, etas: list[float],
             batch_size: int) -> tuple[float, dict[float, float]]:
    """The eta with the best pooled validation accuracy (ties: the smaller step) and every eta's score."""
    if not etas:
        raise LmreproError("pick_eta: no step sizes to choose from (prosg.eval.oracle_lrs is empty)")
    scores = {}
    for eta in etas:
        res = evaluate({"prosg": method_prosg(model, generator, eta=eta)}, encoder, valid, batch_size)
        scores[eta] = float(res["correct"].mean())
    return max(etas, key=lambda eta: (scores[eta], -eta)), scores
