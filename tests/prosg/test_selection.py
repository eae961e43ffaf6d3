"""The gradient-regression generator's test-time step size is chosen on validation scores."""

import pandas as pd
import pytest

from lmrepro.errors import LmreproError
from lmrepro.prosg import selection


@pytest.mark.parametrize("winner", [1.0, 10.0, 100.0])
def test_pick_eta_follows_the_validation_scores(monkeypatch, winner):
    seen = []

    def fake_method(model, generator, eta=None):
        seen.append(eta)
        return eta

    def fake_evaluate(methods, encoder, valid, batch_size):
        (eta,) = methods.values()
        return pd.DataFrame({"correct": [eta == winner, True, False, False]})

    monkeypatch.setattr(selection, "method_prosg", fake_method)
    monkeypatch.setattr(selection, "evaluate", fake_evaluate)
    best, scores = selection.pick_eta(None, None, None, pd.DataFrame(), [1.0, 10.0, 100.0], 8)
    assert best == winner and seen == [1.0, 10.0, 100.0]
    assert scores == {e: (0.5 if e == winner else 0.25) for e in (1.0, 10.0, 100.0)}


def test_pick_eta_ties_go_to_the_smaller_step(monkeypatch):
    monkeypatch.setattr(selection, "method_prosg", lambda model, generator, eta=None: eta)
    monkeypatch.setattr(selection, "evaluate", lambda methods, *a: pd.DataFrame({"correct": [True, False]}))
    assert selection.pick_eta(None, None, None, pd.DataFrame(), [100.0, 10.0], 8)[0] == 10.0
    with pytest.raises(LmreproError, match="oracle_lrs is empty"):
        selection.pick_eta(None, None, None, pd.DataFrame(), [], 8)
