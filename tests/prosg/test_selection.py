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


@pytest.mark.parametrize("winner", ["main", "r2", "r4"])
def test_pick_rank_follows_the_validation_scores(monkeypatch, winner):
    gens = {"main": "g-main", "r2": "g-r2", "r4": "g-r4", "sg": "g-sg"}
    monkeypatch.setattr(selection, "method_prosg", lambda model, generator, eta=None: generator)
    monkeypatch.setattr(selection, "evaluate", lambda methods, *a: pd.DataFrame(
        {"correct": [list(methods.values())[0] == f"g-{winner}", True]}))
    best, scores = selection.pick_rank(None, gens, ["main", "r2", "r4"], None, pd.DataFrame(), 8)
    assert best == winner and list(scores) == ["main", "r2", "r4"]
    assert scores[winner] == 1.0 and sorted(scores.values()) == [0.5, 0.5, 1.0]


def test_pick_rank_ties_go_to_the_first_candidate_and_missing_ones_are_named(monkeypatch):
    monkeypatch.setattr(selection, "method_prosg", lambda model, generator, eta=None: generator)
    monkeypatch.setattr(selection, "evaluate", lambda methods, *a: pd.DataFrame({"correct": [True, False]}))
    gens = {"main": 1, "r2": 2}
    assert selection.pick_rank(None, gens, ["r2", "main"], None, pd.DataFrame(), 8)[0] == "r2"
    assert selection.pick_rank(None, gens, ["main", "r2"], None, pd.DataFrame(), 8)[0] == "main"
    with pytest.raises(LmreproError, match=r"rank_candidates: no generator for \['r64'\]"):
        selection.pick_rank(None, gens, ["main", "r64"], None, pd.DataFrame(), 8)
