"""The validation search of the generators' lr and steps (lmrepro.prosg.tuning): families,
checkpoints, the selection rule, and that scoring checkpoints does not change training."""

import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.prosg import tuning
from lmrepro.prosg.scoring import evaluate, method_prosg
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator
from lmrepro.prosg.train import TrainConfig, train_generator

VARIANTS = ["main", "sg", "shuffled", "r2"]


def test_families_cover_every_variant_once():
    owner = tuning.family_of({"main": ["main", "shuffled", "r2"], "sg": ["sg"]}, VARIANTS)
    assert owner == {"main": "main", "shuffled": "main", "r2": "main", "sg": "sg"}
    with pytest.raises(LmreproError, match=r"\['sg'\].*in no family"):
        tuning.family_of({"main": ["main", "shuffled", "r2"]}, VARIANTS)
    with pytest.raises(LmreproError, match="'shuffled' is in two families"):
        tuning.family_of({"main": ["main", "shuffled", "r2"], "sg": ["sg", "shuffled"]}, VARIANTS)
    with pytest.raises(LmreproError, match=r"prosg.tune.families.main: 'r9' is not a key of prosg.variants"):
        tuning.family_of({"main": ["main", "r9"], "sg": ["sg", "shuffled", "r2"]}, VARIANTS)
    with pytest.raises(LmreproError, match="leader must be one of its own"):
        tuning.family_of({"main": ["shuffled", "r2"], "sg": ["sg", "main"]}, VARIANTS)


def test_checkpoints_include_the_last_step():
    assert tuning.checkpoints(400, 50) == [50, 100, 150, 200, 250, 300, 350, 400]
    assert tuning.checkpoints(7, 3) == [3, 6, 7]
    assert tuning.checkpoints(2, 5) == [2]
    with pytest.raises(LmreproError, match="prosg.tune.every"):
        tuning.checkpoints(10, 0)


def _trial(lr, scores, every=50, variant="main"):
    return {"variant": variant, "lr": lr, "seed": 2022, "split": "valid", "valid_items": 360,
            "curve": [{"steps": every * (i + 1), "valid_accuracy": a} for i, a in enumerate(scores)]}


def test_select_takes_the_best_validation_point_and_breaks_ties_cheaply():
    trials = [_trial(0.001, [0.30, 0.40, 0.45]), _trial(0.002, [0.35, 0.50, 0.48]), _trial(0.004, [0.20, 0.10, 0.05])]
    chosen = tuning.select(trials)
    assert (chosen["lr"], chosen["steps"], chosen["valid_accuracy"]) == (0.002, 100, 0.50)
    assert (chosen["family"], chosen["split"], chosen["valid_items"], chosen["seed"]) == ("main", "valid", 360, 2022)
    # the same data with another lr ahead: the choice follows the data, whichever lr wins
    trials[2] = _trial(0.004, [0.60, 0.10, 0.05])
    assert (tuning.select(trials)["lr"], tuning.select(trials)["steps"]) == (0.004, 50)
    # ties: fewer steps first, then the smaller lr
    tied = [_trial(0.001, [0.2, 0.5]), _trial(0.002, [0.5, 0.5])]
    assert (tuning.select(tied)["lr"], tuning.select(tied)["steps"]) == (0.002, 50)
    tied = [_trial(0.004, [0.5]), _trial(0.001, [0.5])]
    assert tuning.select(tied)["lr"] == 0.001
    with pytest.raises(LmreproError, match="several families"):
        tuning.select([_trial(0.001, [0.1]), _trial(0.002, [0.2], variant="sg")])
    with pytest.raises(LmreproError, match="no tuning trials"):
        tuning.select([])


def test_render_marks_the_choice():
    md = tuning.render([_trial(0.001, [0.30, 0.40]), _trial(0.002, [0.35, 0.50])])
    assert "| 0.002 | 0.350 | **0.500** |" in md
    assert "| 0.001 | 0.300 | 0.400 |" in md
    assert md.splitlines()[0] == "| lr | 50 steps | 100 steps |"


def test_scoring_checkpoints_leaves_training_unchanged(encoder, examples, tiny_model):
    """A trial scored on valid at every checkpoint trains exactly as train_prosg: its weights at
    step k equal a plain run of k steps, so the chosen (lr, steps) rebuilds the scored generator."""
    train = examples[examples.split == "train"]
    valid = examples[examples.split == "valid"]
    upd = ProsgConfig(rank=2, generator_hidden=8)
    cfg = TrainConfig(steps=4, batch_size=4, lr=0.01)

    def fresh():
        torch.manual_seed(0)
        return ProsgGenerator(tiny_model, upd)

    scored, at = [], {}
    gen = fresh()

    def score(steps):
        assert not gen.training  # scored in eval mode
        scored.append(float(evaluate({"p": method_prosg(tiny_model, gen)}, encoder, valid, 8)["correct"].mean()))
        at[steps] = {k: v.detach().clone() for k, v in gen.state_dict().items()}

    train_generator(tiny_model, gen, encoder, train, cfg, seed=1, checkpoints=[2, 4], on_checkpoint=score)
    assert sorted(at) == [2, 4] and len(scored) == 2 and gen.training is False
    for k in (2, 4):
        plain = fresh()
        train_generator(tiny_model, plain, encoder, train, TrainConfig(steps=k, batch_size=4, lr=0.01), seed=1)
        for name, value in plain.state_dict().items():
            assert torch.equal(value, at[k][name]), (k, name)
    assert any(not torch.equal(at[2][n], at[4][n]) for n in at[2])  # training moved between checkpoints
