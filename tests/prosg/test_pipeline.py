"""Training and evaluation end to end at toy size: determinism and clear errors."""

import pandas as pd
import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.prosg.scoring import (
    accuracy_table,
    evaluate,
    method_none,
    method_oracle,
    method_prosg,
    method_random,
    method_repeat,
    wilson,
)
from lmrepro.prosg.pretrain import PretrainConfig, pretrain
from lmrepro.prosg.rwkv import RwkvModelConfig, build_model, freeze, load_model, save_model
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator, load_generator, save_generator
from lmrepro.prosg.train import TrainConfig, train_generator

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
               "random": method_random(model, gen, seed=3), "oracle": method_oracle(model, gen.names, lr=1.0)}
    return model, gen, curve, accuracy_table(evaluate(methods, encoder, test, batch_size=8))


def test_same_seed_same_results(encoder, examples, corpus):
    model_a, _, curve_a, acc_a = _run(encoder, examples, corpus, regress=1.0)
    model_b, _, curve_b, acc_b = _run(encoder, examples, corpus, regress=1.0)
    assert curve_a == curve_b
    pd.testing.assert_frame_equal(acc_a, acc_b)
    for (k, v), (_, w) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert torch.equal(v, w), k
    assert set(acc_a["method"]) == {"none", "repeat", "prosg", "random", "oracle"}
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


def test_wilson_interval():
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and 0.1 < hi < 0.2
    lo, hi = wilson(10, 20)
    assert lo < 0.5 < hi and abs((0.5 - lo) - (hi - 0.5)) < 1e-12
    for n in (20, 60, 180):  # a perfect score's interval ends exactly at 1 (the figure's error bars need it)
        lo, hi = wilson(n, n)
        assert hi == 1.0 and lo < 1.0


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
