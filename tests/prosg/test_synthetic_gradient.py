import copy

import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.prosg.generation import greedy
from lmrepro.prosg.sequences import answer_correct
from lmrepro.prosg.synthetic_gradient import (
    LowRankUpdate,
    ProsgConfig,
    ProsgGenerator,
    applied,
    generate_update,
    prompt_gradient,
    random_update,
    target_names,
)

CFG = ProsgConfig(rank=3, eta=0.7, layers=[0, -1], matrices=["feed_forward.value", "attention.key"],
                  generator_hidden=8)


def _random_factors(model, names, batch, rank, seed=0):
    gen = torch.Generator().manual_seed(seed)
    modules = dict(model.named_modules())
    return {n: (torch.randn(batch, modules[n].weight.shape[0], rank, generator=gen, dtype=torch.float64),
                torch.randn(batch, modules[n].weight.shape[1], rank, generator=gen, dtype=torch.float64))
            for n in names}


def _dense_copy(model, update: LowRankUpdate, i: int):
    """A copy of the model whose weights ARE W' = W - eta A_i B_i^T for example i."""
    dense = copy.deepcopy(model)
    modules = dict(dense.named_modules())
    with torch.no_grad():
        for name in update.factors:
            modules[name].weight -= update.dense_delta(name)[i]
    return dense


def test_factored_update_equals_dense_weights(tiny_model, encoder, examples):
    model = tiny_model.double()
    rows = examples[examples.split == "test"].iloc[:3]
    batch = encoder.batch(rows)
    names = target_names(model, CFG)
    update = LowRankUpdate(_random_factors(model, names, len(batch), CFG.rank), eta=0.05)
    with torch.no_grad(), applied(model, update, start=batch.update_from):
        factored = model(input_ids=batch.ids).logits  # (b, T, V)
    for i in range(len(batch)):
        p = int(batch.update_from[i])
        dense = _dense_copy(model, update, i)
        with torch.no_grad():
            # base weights on the prompt, then W' from the prompt's end on (state passed)
            out = model(input_ids=batch.ids[i : i + 1, :p], use_cache=True)
            rest = dense(input_ids=batch.ids[i : i + 1, p:], state=out.state, use_cache=True).logits
            expected = torch.cat([out.logits, rest], dim=1)[0]
        # transformers' CPU WKV recurrence casts to float32 whatever the model dtype, so the
        # whole-model comparison is float32-exact; the layer itself is checked in float64 below
        torch.testing.assert_close(factored[i], expected, rtol=1e-5, atol=1e-6)
    # the update really changes the logits after the prompt (otherwise the test is vacuous)
    with torch.no_grad():
        base = model(input_ids=batch.ids).logits
    assert not torch.allclose(base, factored)
    p0 = int(batch.update_from[0])
    torch.testing.assert_close(base[0, :p0], factored[0, :p0], rtol=0, atol=0)


def test_factored_layer_equals_dense_layer_float64(tiny_model):
    model = tiny_model.double()
    name = "rwkv.blocks.1.feed_forward.value"
    layer = dict(model.named_modules())[name]
    update = LowRankUpdate(_random_factors(model, [name], 2, 4), eta=0.3)
    x = torch.randn(2, 5, layer.in_features, dtype=torch.float64)
    start = torch.tensor([0, 3])
    with torch.no_grad(), applied(model, update, start=start):
        got = layer(x)  # (b, t, o)
    w_prime = layer.weight - update.dense_delta(name)  # (b, o, i)
    want = torch.einsum("boi,bti->bto", w_prime, x)
    want[1, :3] = x[1, :3] @ layer.weight.T  # before start: the base weights
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_base_weights_unchanged_after_prosg_generation(tiny_model, encoder, examples):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    generator = ProsgGenerator(tiny_model, CFG)
    row = examples[examples.split == "test"].iloc[0]
    batch = encoder.batch(examples[examples.split == "test"].iloc[:1])
    update = generate_update(tiny_model, generator, batch.prompt_ids, batch.prompt_len)
    rest = encoder.encode(row.filler) + encoder.encode(row.query)
    greedy(tiny_model, encoder.encode(row.prompt), rest, max_new=6, end_id=encoder.end, update=update)
    oracle = prompt_gradient(tiny_model, generator.names, batch.prompt_ids, batch.prompt_len, lr=1.0)
    with applied(tiny_model, oracle, start=batch.update_from):
        tiny_model(input_ids=batch.ids)
    after = tiny_model.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert all(p.grad is None for p in tiny_model.parameters())
    assert not any(m._forward_hooks for m in tiny_model.modules())  # the update was discarded


def test_no_update_path_reproduces_base_logits(tiny_model, encoder, examples):
    batch = encoder.batch(examples.iloc[:4])
    with torch.no_grad():
        base = tiny_model(input_ids=batch.ids).logits
        with applied(tiny_model, None, start=batch.update_from):
            none = tiny_model(input_ids=batch.ids).logits
        zero = LowRankUpdate({n: (a * 0, b) for n, (a, b) in
                              _random_factors(tiny_model, target_names(tiny_model, CFG), 4, 2).items()}, eta=1.0)
        zero.factors = {n: (a.float(), b.float()) for n, (a, b) in zero.factors.items()}
        with applied(tiny_model, zero, start=batch.update_from):
            zeroed = tiny_model(input_ids=batch.ids).logits
    assert torch.equal(base, none)
    torch.testing.assert_close(base, zeroed, rtol=0, atol=0)


def test_teacher_forced_exact_match_equals_greedy_decoding(tiny_model, encoder, examples):
    rows = examples[examples.split == "test"].iloc[:6]
    batch = encoder.batch(rows)
    generator = ProsgGenerator(tiny_model, CFG)
    update = generate_update(tiny_model, generator, batch.prompt_ids, batch.prompt_len)
    with torch.no_grad(), applied(tiny_model, update, start=batch.update_from):
        logits = tiny_model(input_ids=batch.ids).logits
    flags = answer_correct(logits, batch.labels)
    for i, row in enumerate(rows.itertuples()):
        single = type(update)({n: (a[i : i + 1], b[i : i + 1]) for n, (a, b) in update.factors.items()}, update.eta)
        prompt, rest = encoder.encode(row.prompt), encoder.encode(row.filler) + encoder.encode(row.query)
        out = greedy(tiny_model, prompt, rest, max_new=12, end_id=encoder.end, update=single)
        gold = batch.labels[i][batch.labels[i] != -100].tolist()  # answer tokens + end
        assert bool(flags[i]) == (out + [encoder.end] == gold)
        # positive direction: take the greedy continuation as the gold answer; teacher
        # forcing must then call it correct
        free = greedy(tiny_model, prompt, rest, max_new=4, end_id=-1, update=single)
        ids = torch.tensor([prompt + rest + free[:-1]])
        labels = torch.full_like(ids, -100)
        labels[0, -len(free):] = torch.tensor(free)
        with torch.no_grad(), applied(tiny_model, single, start=torch.tensor([len(prompt)])):
            forced = tiny_model(input_ids=ids).logits
        assert bool(answer_correct(forced, labels)[0])


def test_prompt_gradient_matches_autograd_on_weights(tiny_model, encoder, examples):
    model = copy.deepcopy(tiny_model).double()
    batch = encoder.batch(examples.iloc[:2])
    names = target_names(model, CFG)
    oracle = prompt_gradient(model, names, batch.prompt_ids, batch.prompt_len, lr=1.0)
    modules = dict(model.named_modules())
    for i in range(2):
        for n in names:
            modules[n].weight.requires_grad_(True)
        ids = batch.prompt_ids[i : i + 1, : int(batch.prompt_len[i])]
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:])
        grads = torch.autograd.grad(loss, [modules[n].weight for n in names])
        for n, g in zip(names, grads):
            torch.testing.assert_close(oracle.dense_delta(n)[i], g, rtol=1e-8, atol=1e-10)
        for n in names:
            modules[n].weight.requires_grad_(False)


def test_random_update_matches_norm_and_rank(tiny_model):
    generator = ProsgGenerator(tiny_model, CFG)
    norm = torch.tensor([0.5, 2.0])
    update = random_update(generator.shapes, 2, CFG.rank, CFG.eta, norm, seed=1)
    torch.testing.assert_close(update.frobenius(), norm)
    for n in update.factors:
        assert torch.linalg.matrix_rank(update.dense_delta(n)[0]).item() == CFG.rank


def test_bad_update_config():
    with pytest.raises(LmreproError, match="prosg.update.matrices"):
        ProsgConfig(matrices=["nope"])


def test_wkv_cpu_matches_library():
    from lmrepro.prosg import rwkv

    torch.manual_seed(0)
    b, t, h = 2, 7, 5
    decay, first = torch.randn(h), torch.randn(h)
    key, value = torch.randn(b, t, h), torch.randn(b, t, h)
    out, _ = rwkv._wkv_cpu(decay, first, key, value)
    ref, _ = rwkv._library_wkv(decay, first, key, value)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    state = [torch.randn(b, h), torch.rand(b, h) + 0.5, torch.randn(b, h)]
    out, s1 = rwkv._wkv_cpu(decay, first, key, value, state=[x.clone() for x in state])
    ref, s2 = rwkv._library_wkv(decay, first, key, value, state=[x.clone() for x in state])
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    for x, y in zip(s1, s2):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_folded_generation_path_equals_the_hooks_and_puts_the_weights_back(tiny_model, encoder, examples):
    """One sequence, every position, no autograd: the update is folded into swapped-in
    weights instead of per-token hooks. Same logits as the hook path (start 0 forces it),
    no hook registered, and the very same weight tensors back afterwards, also on error."""
    batch = encoder.batch(examples.iloc[:1])
    factors = _random_factors(tiny_model, target_names(tiny_model, CFG), 1, 2)
    update = LowRankUpdate({n: (a.float(), b.float()) for n, (a, b) in factors.items()}, eta=0.5)
    modules = dict(tiny_model.named_modules())
    originals = {n: modules[n].weight for n in update.factors}
    with torch.no_grad():
        with applied(tiny_model, update, start=torch.zeros(1, dtype=torch.long)):
            hooked = tiny_model(input_ids=batch.ids).logits
        with applied(tiny_model, update):
            assert not any(m._forward_hooks for m in tiny_model.modules())
            assert all(modules[n].weight is not originals[n] for n in update.factors)
            folded = tiny_model(input_ids=batch.ids).logits
        base = tiny_model(input_ids=batch.ids).logits
    same = (folded - hooked).abs().max()
    assert same <= 1e-5 * hooked.abs().max()  # equal up to float rounding
    assert (folded - base).abs().max() > 1000 * same  # and the update does something
    assert all(modules[n].weight is originals[n] for n in update.factors)
    with pytest.raises(RuntimeError, match="inside"), torch.no_grad(), applied(tiny_model, update):
        raise RuntimeError("inside")
    assert all(modules[n].weight is originals[n] for n in update.factors)
