"""runtime.device in the ProSG track: CPU runs are unchanged by the device plumbing, and
a CUDA run (where one exists) agrees with the CPU one."""

import pytest
import torch

from lmrepro.prosg.scoring import evaluate, method_none, method_oracle, method_prosg, method_random
from lmrepro.prosg.pretrain import PretrainConfig, pretrain
from lmrepro.prosg.rwkv import RwkvModelConfig, build_model, freeze, load_model, save_model
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator, load_generator, save_generator
from lmrepro.prosg.train import TrainConfig, train_generator

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
PRE = PretrainConfig(steps=3, batch_task=4, batch_text=2, text_length=16, warmup=1, max_distance=8)


def _pretrained(encoder, examples, corpus, **kw):
    torch.manual_seed(0)
    model = build_model(RwkvModelConfig(hidden_size=16, num_layers=2, intermediate_size=32), encoder.tok.get_vocab_size())
    texts = corpus.loc[corpus.split == "train", "text"].tolist()[:3]
    curve = pretrain(model, encoder, examples[examples.split == "train"], texts, PRE, seed=1, **kw)
    return model, curve


def test_pretrain_explicit_cpu_is_the_default(encoder, examples, corpus):
    ref, ref_curve = _pretrained(encoder, examples, corpus)
    got, got_curve = _pretrained(encoder, examples, corpus, device=torch.device("cpu"), amp=True)  # amp: no-op on CPU
    assert got_curve == ref_curve
    for (name, a), b in zip(ref.state_dict().items(), got.state_dict().values()):
        assert torch.equal(a, b), name


def test_batch_to_moves_every_tensor(encoder, examples):
    batch = encoder.batch(examples.head(3))
    moved = batch.to("meta")
    for field in ("ids", "labels", "update_from", "prompt_ids", "prompt_len"):
        assert getattr(moved, field).device.type == "meta"
        assert getattr(batch, field).device.type == "cpu"


def _train(model, encoder, examples, **kw):
    torch.manual_seed(0)
    gen = ProsgGenerator(model, ProsgConfig(rank=2, generator_hidden=8))
    curve = train_generator(model, gen, encoder, examples[examples.split == "train"],
                            TrainConfig(steps=2, batch_size=4, regress_weight=0.5), seed=0, **kw)
    return gen, curve


def test_train_generator_amp_flag_is_a_cpu_noop(tiny_model, encoder, examples):
    ref, ref_curve = _train(tiny_model, encoder, examples)
    got, got_curve = _train(tiny_model, encoder, examples, amp=True)
    assert got_curve == ref_curve
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), got.state_dict().values()))


@CUDA
def test_cuda_matches_cpu(tmp_path, tiny_model, encoder, examples):
    """Same weights on both devices: predictions agree (fp32, different kernels)."""
    gen, _ = _train(tiny_model, encoder, examples)
    save_model(tiny_model, RwkvModelConfig(hidden_size=16, num_layers=2, intermediate_size=32),
               encoder.tok.get_vocab_size(), tmp_path / "base")
    save_generator(gen, tmp_path / "gen")
    test = examples[examples.split == "test"]
    scores = {}
    for device in ("cpu", "cuda"):
        model = freeze(load_model(tmp_path / "base", device=device)[0])
        g = load_generator(tmp_path / "gen", model, device)
        methods = {"none": method_none(model), "prosg": method_prosg(model, g),
                   "oracle": method_oracle(model, g.names, 1.0), "random": method_random(model, g, 0)}
        scores[device] = evaluate(methods, encoder, test, batch_size=8)
    agree = (scores["cpu"]["correct"].values == scores["cuda"]["correct"].values).mean()
    assert agree >= 0.95
