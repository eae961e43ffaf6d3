"""Training and evaluation end to end at toy size: determinism and clear errors."""

import numpy as np
import pandas as pd
import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.prosg.scoring import (
    evaluate,
    method_none,
    method_oracle,
    method_prosg,
    method_prosg_other,
    method_random,
    method_repeat,
)
from lmrepro.prosg.pretrain import PretrainConfig, pretrain
from lmrepro.prosg.rwkv import RwkvModelConfig, build_model, freeze, load_model, save_model
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator, load_generator, save_generator
from lmrepro.prosg.summary import accuracy_table, mean_ci
from lmrepro.prosg.train import TrainConfig, shifted, train_generator

PRE = PretrainConfig(steps=2, batch_task=4, batch_text=2, text_length=16, warmup=1)
UPD = ProsgConfig(rank=2, generator_hidden=8)


def _run(encoder, examples, corpus, regress: float):
    torch.manual_seed(0)
    model = build_model(RwkvModelConfig(hidden_size=16, num_layers=2, intermediate_size=32), encoder.tok.get_vocab_size())
    train = examples[examples.split == "train"]
    pretrain(model, encoder, train, corpus["text"].tolist()[:3], PRE, seed=1)
    model = freeze(model)
    torch.manual_seed(0)
    gen = ProsgGenerator(model, UPD)
    curve = train_generator(model, gen, encoder, train, TrainConfig(steps=2, batch_size=4, regress_weight=regress),
                            seed=1)
    test = examples[examples.split == "test"]
    methods = {"none": method_none(model), "repeat": method_repeat(model), "prosg": method_prosg(model, gen),
               "random": method_random(model, gen, seed=3), "oracle": method_oracle(model, gen.names, lr=1.0),
               "prosg_other": method_prosg_other(model, gen, test, seed=3)}
    preds = evaluate(methods, encoder, test, batch_size=8).assign(seed=0)
    return model, gen, curve, accuracy_table(preds.assign(correct=preds["correct"].astype(int)), n_boot=200, seed=0)


def test_same_seed_same_results(encoder, examples, corpus):
    model_a, _, curve_a, acc_a = _run(encoder, examples, corpus, regress=1.0)
    model_b, _, curve_b, acc_b = _run(encoder, examples, corpus, regress=1.0)
    assert curve_a == curve_b
    pd.testing.assert_frame_equal(acc_a, acc_b)
    for (k, v), (_, w) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert torch.equal(v, w), k
    assert set(acc_a["method"]) == {"none", "repeat", "prosg", "random", "oracle", "prosg_other"}
    assert {"loss_answer", "loss_regress"} <= set(curve_a[0])


def test_save_load_roundtrip(tmp_path, encoder, examples, corpus):
    model, gen, _, _ = _run(encoder, examples, corpus, regress=0.0)
    save_model(model, RwkvModelConfig(hidden_size=16, num_layers=2, intermediate_size=32),
               encoder.tok.get_vocab_size(), tmp_path / "base", tokenizer=encoder.tok)
    save_generator(gen, tmp_path / "gen")
    loaded, _ = load_model(tmp_path / "base")
    for (k, v), (_, w) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(v, w), k
    gen2 = load_generator(tmp_path / "gen", loaded)
    for (k, v), (_, w) in zip(gen.state_dict().items(), gen2.state_dict().items()):
        assert torch.equal(v, w), k
    assert (tmp_path / "base" / "tokenizer.json").is_file()


def test_missing_files_are_clear_errors(tmp_path, tiny_model):
    with pytest.raises(LmreproError, match="config.json"):
        load_model(tmp_path / "nothing")
    with pytest.raises(LmreproError, match="generator file not found"):
        load_generator(tmp_path / "nothing", tiny_model)


def test_mean_ci_resamples_items_and_seeds():
    rng = np.random.default_rng(0)
    same = np.tile(rng.integers(0, 2, size=200), (3, 1)).astype(float)  # three identical seeds
    mean, lo, hi = mean_ci(same, 2000, np.random.default_rng(1))
    assert lo < mean < hi and mean == same.mean()
    varied = same.copy()
    varied[0] = 1.0  # one seed answers everything: seed-to-seed spread must widen the CI
    _, vlo, vhi = mean_ci(varied, 2000, np.random.default_rng(1))
    assert vhi - vlo > (hi - lo) * 1.5
    assert mean_ci(np.ones((2, 50)), 100, np.random.default_rng(1)) == (1.0, 1.0, 1.0)


def test_shifted_never_keeps_an_example_in_place():
    rng = np.random.default_rng(0)
    for n in (2, 3, 24):
        for _ in range(50):
            perm = shifted(n, rng)
            assert sorted(perm) == list(range(n)) and (perm != np.arange(n)).all()
    with pytest.raises(ValueError, match="batch_size"):
        shifted(1, rng)


def test_shuffled_control_trains_on_other_prompts(encoder, examples, corpus, monkeypatch):
    """shuffle_states feeds each example another example's states: the generator's input
    rows are a derangement of the real ones."""
    import lmrepro.prosg.train as train_mod

    seen = []
    real = train_mod.prompt_states

    def recording(model, ids, lens):
        out = real(model, ids, lens)
        seen.append(out)
        return out

    torch.manual_seed(0)
    model = freeze(build_model(RwkvModelConfig(hidden_size=16, num_layers=2, intermediate_size=32),
                               encoder.tok.get_vocab_size()))
    gen = ProsgGenerator(model, UPD)
    fed = []
    gen.register_forward_pre_hook(lambda mod, args: fed.append(args[0].detach().clone()))
    monkeypatch.setattr(train_mod, "prompt_states", recording)
    train = examples[examples.split == "train"]
    train_generator(model, gen, encoder, train, TrainConfig(steps=2, batch_size=4, shuffle_states=True), seed=1)
    assert len(seen) == len(fed) == 2
    for states, given in zip(seen, fed):
        assert not torch.equal(states, given)
        assert sorted(map(tuple, states.tolist())) == sorted(map(tuple, given.tolist()))
    shuffled_batches = list(seen)
    seen.clear()
    train_generator(model, ProsgGenerator(model, UPD), encoder, train, TrainConfig(steps=2, batch_size=4), seed=1)
    assert all(torch.equal(a, b) for a, b in zip(seen, shuffled_batches))  # the same batches as main


def test_other_prompt_control_uses_another_item_of_the_same_kind(encoder, examples, tiny_model, monkeypatch):
    import lmrepro.prosg.scoring as ev

    gen = ProsgGenerator(tiny_model, UPD)
    test = examples[examples.split == "test"]
    prompts = []
    real = ev.generate_update

    def recording(model, generator, prompt_ids, prompt_len):
        prompts.extend(encoder.tok.decode(ids[:n].tolist()) for ids, n in zip(prompt_ids, prompt_len))
        return real(model, generator, prompt_ids, prompt_len)

    monkeypatch.setattr(ev, "generate_update", recording)
    rows = test.iloc[:8]
    ev.method_prosg_other(tiny_model, gen, test, seed=0)(encoder, rows)
    by_prompt = {encoder.tok.decode(encoder.encode(p)): k for p, k in zip(test["prompt"], test["kind"])}
    for own, kind, used in zip(rows["prompt"], rows["kind"], prompts):
        assert used != encoder.tok.decode(encoder.encode(own))
        assert by_prompt[used] == kind


def test_decoded_gold_tokens_give_the_answer_string(encoder, examples):
    """What eval_prosg stores as ``prediction``: the answer-position tokens decoded and cut
    at the end token. Fed the gold tokens it must give back every kind's exact answer
    (format answers hold a space and a digit); a missing end token shows as extra text."""
    from lmrepro.prosg.scoring import decode_prediction

    rows = examples[examples.split == "test"]
    batch = encoder.batch(rows)
    for labels, answer in zip(batch.labels, rows["answer"]):
        gold = labels[labels != -100].tolist()
        assert gold[-1] == encoder.end
        assert decode_prediction(encoder, gold) == answer
        wrong_end = gold[:-1] + [encoder.encode(" the")[0]]
        assert decode_prediction(encoder, wrong_end) != answer


def test_generator_batches_hold_one_distance_each_and_cover_the_range(encoder, examples, tiny_model):
    """Each training step's rows share one filler distance (a step costs its own length),
    never below min_distance, and over the steps every distance of the range is practised."""
    train = examples[examples.split == "train"]
    seen = []

    class Recording:
        def __getattr__(self, name):
            return getattr(encoder, name)

        def batch(self, rows, **kw):
            seen.append(sorted(set(rows["distance"])))
            return encoder.batch(rows, **kw)

    cfg = TrainConfig(steps=30, batch_size=4, min_distance=1)
    curve = train_generator(tiny_model, ProsgGenerator(tiny_model, UPD), Recording(), train, cfg, seed=3)
    assert all(len(d) == 1 for d in seen) and len(seen) == 30
    assert [d[0] for d in seen] == [r["distance"] for r in curve]
    assert {d[0] for d in seen} == {d for d in train["distance"].unique() if d >= 1}
