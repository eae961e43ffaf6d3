import pytest
import torch
from transformers import AlbertConfig, AlbertModel, BertConfig, BertModel

from lmrepro.edge import workload as W
from lmrepro.edge.schemas import Workload
from lmrepro.errors import LmreproError

# ALBERT-base-v2's config.json differs from AlbertConfig() (xxlarge) in these fields only
ALBERT_BASE = dict(hidden_size=768, num_attention_heads=12, intermediate_size=3072)


def albert(**kw):
    return W.encoder_workload("albert-base-v2", W.shape_from_config(AlbertConfig(**ALBERT_BASE)), W.WorkloadConfig(**kw))


def by_role(wl, col="params"):
    return wl.set_index("role")[col].to_dict()


def test_albert_base_v2_parts_match_papers_md():
    wl = Workload.validate(albert())
    p = by_role(wl)
    assert round(p["embedding"] / 1e6, 2) == 3.91
    assert round(p["projection"] / 1e6, 2) == 0.10
    assert round(p["layers"] / 1e6, 2) == 7.09
    assert round(p["pooler"] / 1e6, 2) == 0.59
    assert W.totals(wl)["backbone_params"] == 11_683_584  # 11.68M


def test_albert_counts_match_the_instantiated_model():
    with torch.device("meta"):
        model = AlbertModel(AlbertConfig(**ALBERT_BASE))
    assert sum(p.numel() for p in model.parameters()) == W.totals(albert())["backbone_params"]


def test_bert_style_config_counts_match_the_instantiated_model():
    cfg = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64)
    with torch.device("meta"):
        model = BertModel(cfg)
    wl = W.encoder_workload("tiny-bert", W.shape_from_config(cfg), W.WorkloadConfig(seq_len=16))
    assert by_role(wl)["projection"] == 0
    assert W.totals(wl)["backbone_params"] == sum(p.numel() for p in model.parameters())


def test_albert_macs_at_seq_128_about_11_2_gmac():
    macs = by_role(albert(), "macs")
    backbone = macs["embedding"] + macs["projection"] + macs["layers"] + macs["pooler"]
    assert backbone / 1e9 == pytest.approx(11.2, abs=0.05)


@pytest.mark.parametrize("m", [1, 8, 64, 256])
def test_houlsby_adapter_formula(m):
    one = 2 * 768 * m + 768 + m  # papers.md
    assert W.houlsby_adapter_params(768, m) == one
    shared = by_role(albert(bottleneck=m))
    assert shared["adapters"] == 2 * one  # two per (shared) layer
    own = by_role(albert(bottleneck=m, shared_adapters=False))
    assert own["adapters"] == 2 * 12 * one
    # either way every one of the 12 layer applications reads its two adapters
    assert by_role(albert(bottleneck=m), "read_params")["adapters"] == 2 * 12 * one


def test_shared_layer_is_read_once_per_application():
    wl = albert()
    assert by_role(wl, "read_params")["layers"] == 12 * by_role(wl)["layers"]
    assert by_role(wl, "read_bytes")["embedding"] == 3 * 128 * 128 + 2 * 128  # only the looked-up rows


def test_bytes_follow_precision():
    wl8, wl16 = albert(weight_bits=8), albert(weight_bits=16)
    assert (wl16["bytes"] == 2 * wl8["bytes"]).all()


def test_bad_workload_config_is_named():
    with pytest.raises(LmreproError, match="seq_len"):
        albert(seq_len=1024)
    with pytest.raises(LmreproError, match="weight_bits"):
        W.WorkloadConfig(weight_bits=0)


class _FakeMta(torch.nn.Module):
    """Mimics lmrepro.mta.model.MtaClassifier's parameter naming (embeddings., layers., adapters., heads.)."""

    def __init__(self):
        super().__init__()
        cfg = BertConfig(vocab_size=500, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64)
        bert = BertModel(cfg, add_pooling_layer=False)
        self.encoder_config = cfg
        self.embeddings, self.layers = bert.embeddings, bert.encoder.layer
        self.adapters = torch.nn.ModuleDict({"1": torch.nn.ModuleDict({
            "down": torch.nn.Linear(32, 8), "up": torch.nn.Linear(8, 32)})})
        self.adapters["1"].gate_logits = torch.nn.Parameter(torch.zeros(2, 3))
        self.heads = torch.nn.ModuleDict({"sst2": torch.nn.Linear(32, 2), "trec": torch.nn.Linear(32, 6)})


class _FakeBundle:
    def __init__(self):
        self.model, self.tasks = _FakeMta(), ["sst2", "trec"]

    def backbone_param_names(self):
        return [n for n, _ in self.model.named_parameters() if n.startswith(("embeddings.", "layers."))]

    def adapter_param_names(self):
        return [n for n, _ in self.model.named_parameters() if n.startswith(("adapters.", "heads."))]


def test_bundle_workload_counts_roles_from_the_bundle():
    b = _FakeBundle()
    wl = Workload.validate(W.bundle_workload("ours", b, W.WorkloadConfig(seq_len=16)))
    p, macs = by_role(wl), by_role(wl, "macs")
    named = dict(b.model.named_parameters())
    assert p["embedding"] == sum(v.numel() for k, v in named.items() if k.startswith("embeddings."))
    assert p["layers"] == sum(v.numel() for k, v in named.items() if k.startswith("layers."))
    assert p["projection"] == 0 and p["pooler"] == 0
    assert p["adapters"] == (32 * 8 + 8) + (8 * 32 + 32) + 6  # down, up, gate logits
    assert p["head"] == ((32 * 2 + 2) + (32 * 6 + 6)) / 2  # mean head: one task's is read
    assert macs["adapters"] == 16 * (32 * 8 + 8 * 32)  # every token through both matrices
    assert sum(p.values()) + p["head"] == sum(v.numel() for v in named.values())  # heads stored x2 tasks
    shape = W.shape_from_config(b.model.encoder_config)
    assert macs["layers"] == 2 * W.layer_macs(shape, 16)


def test_bundle_with_unlisted_parameters_is_an_error():
    b = _FakeBundle()
    b.backbone_param_names = lambda: ["embeddings.word_embeddings.weight"]
    with pytest.raises(LmreproError, match="neither backbone nor adapter"):
        W.bundle_workload("ours", b, W.WorkloadConfig(seq_len=16))
