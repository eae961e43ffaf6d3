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
