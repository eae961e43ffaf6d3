import numpy as np
import pytest
import torch

from lmrepro.rec.beam_search import constrained_beam_search, hf_beam_search
from lmrepro.rec.models.t5 import T5Geometry, build_t5, count_params, resolve
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import EOS, Vocab

TINY = T5Geometry(d_model=32, d_ff=8, num_layers=2, num_decoder_layers=2, num_heads=2, d_kv=16, dropout=0.0)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    ids = set()
    while len(ids) < 120:  # variable-length IDs, as SCI/CID produce
        ids.add(tuple(int(x) for x in rng.integers(0, 5, rng.integers(2, 5))))
    ids = sorted(ids)
    vocab = Vocab.from_ids(ids)
    torch.manual_seed(0)
    model = build_t5(TINY, vocab.size).eval()
    trie = Trie([vocab.encode(t) for t in ids], vocab.size)
    inputs = torch.randint(3, vocab.size, (6, 7))
    return ids, vocab, model, trie, inputs


def test_trie_never_emits_an_invalid_item(setup):
    ids, vocab, model, trie, inputs = setup
    items, scores = constrained_beam_search(model, inputs, torch.ones_like(inputs), trie, 20)
    assert (items >= 0).all() and (items < len(ids)).all()
    for row in items.tolist():
        assert len(set(row)) == len(row)  # K distinct items
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first


@pytest.mark.parametrize("padded", [False, True])
def test_same_lists_as_transformers_generate(setup, padded):
    _, _, model, trie, inputs = setup
    mask = torch.ones_like(inputs)
    if padded:  # right-padded inputs of different lengths: the encoder mask must be honoured
        mask = (torch.arange(inputs.size(1))[None] < (torch.arange(len(inputs)) % 4 + 3)[:, None]).long()
        inputs = inputs * mask
    a, sa = constrained_beam_search(model, inputs, mask, trie, 10)
    b, sb = hf_beam_search(model, inputs, mask, trie, 10)
    assert torch.equal(a, b)
    assert torch.allclose(sa, sb, atol=1e-5)


def test_incremental_decoder_matches_the_model(setup):
    """Teacher-forced: every step's logits equal a full forward pass of the model."""
    from lmrepro.rec.t5_decoder import T5BeamDecoder

    _, _, model, trie, inputs = setup
    mask = torch.ones_like(inputs)
    mask[0, 4:] = 0
    prefix = torch.randint(3, trie.vocab_size, (len(inputs), 3))
    dec_in = torch.cat([torch.zeros(len(inputs), 1, dtype=torch.int64), prefix], 1)
    with torch.no_grad():
        ref = model(input_ids=inputs, attention_mask=mask, decoder_input_ids=dec_in).logits  # [B, 4, V]
    dec = T5BeamDecoder(model, inputs, mask, max_steps=4)
    got = [dec.start()] + [dec.step(prefix[:, j]) for j in range(3)]
    for j, g in enumerate(got):
        assert torch.allclose(g, ref[:, j], atol=1e-5), j


def test_trie_mask_and_step(setup):
    ids, vocab, _, trie, _ = setup
    seq = vocab.encode(ids[7]) + [EOS]
    node = torch.tensor([0])
    for tok in seq:
        assert trie.mask(node)[0, tok] == 0
        node = trie.step(node, torch.tensor([tok]))
    assert trie.item_of[node].item() == 7
    assert trie.step(torch.tensor([0]), torch.tensor([EOS])).item() == -1


def test_param_count_and_matching():
    assert count_params(TINY, 50) == sum(p.numel() for p in build_t5(TINY, 50).parameters())
    deep = T5Geometry(d_model=64, d_ff=16, num_layers=6, num_decoder_layers=6, num_heads=4, d_kv=16)
    target = count_params(deep, 100)
    wide = resolve(T5Geometry(d_model=64, num_layers=1, num_decoder_layers=1, num_heads=4, d_kv=16, match_params=target), 100)
    assert abs(count_params(wide, 100) - target) / target < 0.01
    assert wide.d_ff > 16
