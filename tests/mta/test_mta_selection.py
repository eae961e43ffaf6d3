"""Learning rate and epoch chosen on validation (mta/selection.py, train.Curves.keep_best):
the model ends at the chosen run's best epoch, the choice follows the scores either way,
and the later seeds get the first seed's rates."""

import numpy as np
import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.mta import methods
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.features import compute_features
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.selection import ALL, SearchConfig, candidates, chosen_lrs, fit
from lmrepro.mta.train import Curves, Inputs, TrainConfig, single_task_schedule, train

MIX = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1)
CFG = TrainConfig(epochs=3, batch_size=4, lr=1e-2)


@pytest.fixture()
def setup(backbone, fresh_encoder, tiny_table):
    _, tok = backbone
    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=8, n_test=4, n_valid=4,
                                                      max_len=16))
    encoded = encode(examples, tok, 16)
    data = methods.Task.from_examples(examples)
    probe = MtaClassifier(fresh_encoder, {"sst2": 2}, MIX, "none")
    inputs = Inputs(encoded, compute_features(probe, encoded, key="k"))
    model = MtaClassifier(fresh_encoder, data.n_labels, MIX, "mixture")
    model.set_routing("own")
    rows = data.splits["train"]["sst2"]
    schedule = single_task_schedule("sst2", rows, CFG, np.random.default_rng(0))
    names = [n for n, _ in model.named_parameters() if ".task_adapters.0." in n or n.startswith("heads.sst2")]
    return model, inputs, data, schedule, names


def _scripted(scores, snapshots, names):
    """A validate function that returns ``scores`` in turn and records the weights it saw."""
    it = iter(scores)

    def validate(model):
        params = dict(model.named_parameters())
        snapshots.append([params[n].detach().clone() for n in names])
        return next(it)
    return validate


def _weights(model, names):
    params = dict(model.named_parameters())
    return [params[n].detach().clone() for n in names]


@pytest.mark.parametrize("scores,best", [([0.9, 0.5, 0.7], 1), ([0.5, 0.6, 0.7], 3), ([0.6, 0.8, 0.8], 2)])
def test_keep_best_ends_at_the_best_validation_epoch(setup, scores, best):
    model, inputs, data, schedule, names = setup
    seen = []
    epoch_steps = len(schedule) // 3
    log = train(model, inputs, data.labels, schedule, names, CFG, curves=Curves(
        epoch_steps=epoch_steps, validate=_scripted(scores, seen, names), keep_best=True))
    assert log.valid_scores == scores and log.best_epoch == best and log.best_score == max(scores)
    for now, then in zip(_weights(model, names), seen[best - 1]):
        assert torch.equal(now, then)
    if best != 3:  # the last epoch's weights differ: the restore did something
        assert any(not torch.equal(a, b) for a, b in zip(_weights(model, names), seen[-1]))


def test_without_keep_best_the_model_ends_at_the_last_step(setup):
    model, inputs, data, schedule, names = setup
    seen = []
    log = train(model, inputs, data.labels, schedule, names, CFG, curves=Curves(
        epoch_steps=len(schedule) // 3, validate=_scripted([0.9, 0.5, 0.7], seen, names)))
    assert log.best_epoch == 0 and log.best_score == 0.7
    assert all(torch.equal(a, b) for a, b in zip(_weights(model, names), seen[-1]))


@pytest.mark.parametrize("winner", [0, 1])
def test_fit_keeps_the_rate_that_scored_best_on_validation(fresh_encoder, setup, winner):
    """Either candidate can win; the model ends with the winner's weights, and the losing
    run started from the same weights as the winner (not from where the winner left off)."""
    model, inputs, data, schedule, names = setup
    lrs = [1e-2, 3e-2]
    start = _weights(model, names)
    seen: dict[str, list] = {}
    by_suffix = {"/lr0.01": [0.4, 0.6, 0.5], "/lr0.03": [0.3, 0.5, 0.55]}
    if winner == 1:
        by_suffix["/lr0.03"] = [0.3, 0.7, 0.55]

    def curves_for(suffix):
        seen[suffix] = []
        return Curves(epoch_steps=len(schedule) // 3, validate=_scripted(by_suffix[suffix], seen[suffix], names))

    log, choice = fit(model, inputs, data.labels, schedule, names, CFG, lrs, 7, curves_for, "sst2")
    assert choice.lr == lrs[winner] and choice.epoch == 2 and choice.epochs == 3
    assert choice.candidates == {"0.01": 0.6, "0.03": 0.7 if winner else 0.55}
    assert choice.valid == max(choice.candidates.values()) and log.best_score == choice.valid
    kept = seen[f"/lr{lrs[winner]:g}"][1]
    assert all(torch.equal(a, b) for a, b in zip(_weights(model, names), kept))
    # same start, same batches, same dropout draws: rerunning the winner alone gives the same weights
    again = MtaClassifier(fresh_encoder, data.n_labels, MIX, "mixture")
    again.set_routing("own")
    with torch.no_grad():
        for p, s in zip(_named(again, names), start):
            p.copy_(s)
    _, solo = fit(again, inputs, data.labels, schedule, names, CFG, [lrs[winner]], 7,
                  lambda s: Curves(epoch_steps=len(schedule) // 3,
                                   validate=_scripted(by_suffix[f"/lr{lrs[winner]:g}"], [], names)), "sst2")
    assert solo.epoch == choice.epoch
    assert all(torch.equal(a, b) for a, b in zip(_weights(again, names), kept))


def _named(model, names):
    params = dict(model.named_parameters())
    return [params[n] for n in names]


def test_fit_refuses_training_without_validation(setup):
    model, inputs, data, schedule, names = setup
    with pytest.raises(LmreproError, match="validate"):
        fit(model, inputs, data.labels, schedule, names, CFG, [1e-2], 0, lambda s: Curves(), "sst2")


def test_candidates_grid_on_the_first_seed_then_the_choice():
    search = SearchConfig(lr_scales=(1.0, 2.0))
    first = candidates(1e-3, search, ["sst2", "cola"])
    assert first == {"sst2": [1e-3, 2e-3], "cola": [1e-3, 2e-3]}
    later = candidates(1e-3, search, ["sst2", "cola"], {"sst2": 2e-3, "cola": 1e-3})
    assert later == {"sst2": [2e-3], "cola": [1e-3]}
    with pytest.raises(LmreproError, match="cola"):
        candidates(1e-3, search, ["sst2", "cola"], {"sst2": 2e-3})
    for bad in ((), (0.0, 1.0), (1.0, 1.0)):
        with pytest.raises(LmreproError, match="lr_scales"):
            SearchConfig(lr_scales=bad)


def test_stage1_chooses_per_task_and_records_each_choice(fresh_encoder, setup):
    _, inputs, data, _, _ = setup
    lrs = {"sst2": [1e-2, 2e-2], "msrp": [1e-2, 2e-2]}
    result = methods.stage1(fresh_encoder, data, inputs, MIX, TrainConfig(epochs=2, batch_size=4, lr=1e-2), 3,
                            lrs=lrs)
    assert [c.unit for c in result.choices] == ["sst2", "msrp"]
    for c, log in zip(result.choices, result.logs):
        assert set(c.candidates) == {"0.01", "0.02"} and c.valid == max(c.candidates.values())
        assert 1 <= c.epoch <= 2 and log.best_score == c.valid
    assert set(chosen_lrs(result.choices)) == {"sst2", "msrp"}
    assert result.search_seconds >= result.seconds > 0
    joint = methods.joint_adapters("shared", fresh_encoder, data, inputs, MIX,
                                   TrainConfig(epochs=1, batch_size=4, lr=1e-2), 3, lrs={ALL: [1e-2, 2e-2]})
    assert [c.unit for c in joint.choices] == [ALL] and len(joint.choices[0].candidates) == 2
