"""Two-stage training on a tiny two-task frame with the real MiniLM backbone."""

import numpy as np
import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.mta import methods
from lmrepro.mta.backbone import backbone_digest, resolve_backbone, DEFAULT_BACKBONE
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.export import load_bundle, save_bundle
from lmrepro.mta.features import cache_key, cached_features, compute_features, load_features
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.model import MtaClassifier
from lmrepro.mta.train import Inputs, TrainConfig, predict

MIX = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1)
TRAIN = TrainConfig(epochs=2, batch_size=4, lr=1e-2)


@pytest.fixture()
def setup(backbone, tiny_table):
    _, tok = backbone
    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=12, n_test=4, max_len=16))
    encoded = encode(examples, tok, 16)
    data = methods.Task.from_examples(examples)
    return examples, encoded, data


def _features(encoder, encoded):
    probe = MtaClassifier(encoder, {"sst2": 2}, MIX, "none")
    return compute_features(probe, encoded, key="k")


def test_cached_and_uncached_logits_match(fresh_encoder, setup):
    _, encoded, data = setup
    torch.manual_seed(0)
    model = MtaClassifier(fresh_encoder, data.n_labels, MIX, "mixture").eval()
    with torch.no_grad():  # non-trivial adapters and gates
        for n, p in model.named_parameters():
            if n.startswith("adapters."):
                p.normal_(std=0.1)
    feats = _features(fresh_encoder, encoded)
    naive, cached = Inputs(encoded), Inputs(encoded, feats)
    rows = np.arange(len(encoded))[::-1].copy()  # different padding than the cache was built with
    for task in data.n_labels:
        with torch.no_grad():
            a = naive.logits(model, rows, task)
            b = cached.logits(model, rows, task)
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


def test_feature_cache_is_keyed_and_refuses_a_stale_file(fresh_encoder, setup, tmp_path):
    _, encoded, _ = setup
    probe = MtaClassifier(fresh_encoder, {"sst2": 2}, MIX, "none")
    folder = resolve_backbone(DEFAULT_BACKBONE)
    feats = cached_features(tmp_path, probe, encoded, "bb1")
    key = cache_key("bb1", encoded.digest(), probe.first_adapted)
    assert (tmp_path / f"{key}.safetensors").is_file() and feats.key == key
    again = load_features(tmp_path / f"{key}.safetensors", key)
    assert torch.equal(again.attn, feats.attn) and torch.equal(again.ffn, feats.ffn)
    with pytest.raises(LmreproError, match="does not match"):
        load_features(tmp_path / f"{key}.safetensors", cache_key("bb2", encoded.digest(), 5))
    assert len(backbone_digest(folder)) == 64


def test_stage2_changes_only_gates_and_shared_adapters(fresh_encoder, setup):
    _, encoded, data = setup
    inputs = Inputs(encoded, _features(fresh_encoder, encoded))
    s1 = methods.stage1(fresh_encoder, data, inputs, MIX, TRAIN, seed=0)
    before = {n: p.detach().clone() for n, p in s1.model.named_parameters()}
    meant = set(methods.stage2_names(s1.model, train_heads=False))
    assert meant and all(".gate_logits" in n or ".shared_adapters." in n for n in meant)
    s2 = methods.stage2(s1.model, data, inputs, methods.Stage2Config(epochs=2, batch_size=4, lr=1e-2), seed=0)
    changed = {n for n, p in s2.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == meant  # every meant parameter moved, nothing else did
    assert s2.trainable == sum(before[n].numel() for n in meant)


def test_stage1_trains_each_task_adapter_alone(fresh_encoder, setup):
    _, encoded, data = setup
    inputs = Inputs(encoded, _features(fresh_encoder, encoded))
    s1 = methods.stage1(fresh_encoder, data, inputs, MIX, TRAIN, seed=0)
    params = dict(s1.model.named_parameters())
    assert torch.equal(params["adapters.5.gate_logits"], methods.MtaClassifier(
        fresh_encoder, data.n_labels, MIX, "mixture").adapters["5"].gate_logits)
    assert params["adapters.5.shared_adapters.0.up.weight"].abs().sum() == 0  # untouched in stage 1
    assert params["adapters.5.task_adapters.0.up.weight"].abs().sum() > 0
    assert set(s1.preds) == {"sst2", "msrp"}


def test_training_is_deterministic(fresh_encoder, setup):
    _, encoded, data = setup
    inputs = Inputs(encoded, _features(fresh_encoder, encoded))
    runs = [methods.joint_adapters("mixture", fresh_encoder, data, inputs, MIX, TRAIN, seed=3) for _ in range(2)]
    a, b = (dict(r.model.named_parameters()) for r in runs)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert all(np.array_equal(runs[0].preds[t], runs[1].preds[t]) for t in data.n_labels)


def test_bundle_round_trip(fresh_encoder, setup, backbone, tmp_path):
    examples, encoded, data = setup
    inputs = Inputs(encoded, _features(fresh_encoder, encoded))
    s1 = methods.stage1(fresh_encoder, data, inputs, MIX, TRAIN, seed=0)
    s2 = methods.stage2(s1.model, data, inputs, methods.Stage2Config(epochs=1, batch_size=4, lr=1e-2), seed=0)
    save_bundle(tmp_path / "mta", s2.model, backbone[1], max_len=16)
    bundle = load_bundle(tmp_path / "mta")
    assert bundle.tasks == ["sst2", "msrp"]
    names = set(bundle.backbone_param_names()) | set(bundle.adapter_param_names())
    assert names == {n for n, _ in bundle.model.named_parameters()}
    assert not set(bundle.backbone_param_names()) & set(bundle.adapter_param_names())
    test = examples[examples["split"] == "test"]
    got = bundle.predict(test)
    want = np.concatenate([s2.preds[t] for t in test["task"].drop_duplicates()])
    assert np.array_equal(got, want)
    with pytest.raises(LmreproError, match="unknown task"):
        bundle.predict(test.assign(task="mnli"))
    with pytest.raises(LmreproError, match="not an MTA bundle"):
        load_bundle(tmp_path / "nothing")



def test_auto_device_gives_the_cpu_numbers_on_a_cpu_machine(fresh_encoder, setup):
    """device=auto (+amp) must not change CPU results: same weights as device=cpu."""
    from lmrepro.runtime import resolve_device

    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    _, encoded, data = setup
    runs = [
        methods.stage1(fresh_encoder, data, Inputs(encoded, _features(fresh_encoder, encoded), device=device, amp=amp),
                       MIX, TRAIN, seed=0)
        for device, amp in (("cpu", False), (resolve_device("auto"), True))
    ]
    a, b = (dict(r.model.named_parameters()) for r in runs)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_cpu_bf16_switch_runs_the_model_in_bf16_and_stays_close(fresh_encoder, setup):
    """mta.precision bf16: the logits change (the switch does something) but stay near fp32;
    on a CUDA device the CPU switch is off (runtime.amp governs there)."""
    _, encoded, data = setup
    torch.manual_seed(0)
    model = MtaClassifier(fresh_encoder, data.n_labels, MIX, "none").eval()
    rows = np.arange(len(encoded))
    with torch.no_grad():
        a = Inputs(encoded).logits(model, rows, "sst2")
        b = Inputs(encoded, cpu_bf16=True).logits(model, rows, "sst2")
    assert b.dtype == torch.float32 and not torch.equal(a, b)
    assert torch.allclose(a, b, atol=0.05), (a - b).abs().max()
    assert not Inputs(encoded, device="cuda", cpu_bf16=True).cpu_bf16
