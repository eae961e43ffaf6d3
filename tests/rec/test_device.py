"""runtime.device / runtime.amp in the rec track: on the CPU the device-aware code gives
exactly the results of a plain CPU loop (amp is a no-op there), `auto` resolves to the CPU
on a machine without CUDA, and (on a GPU box only) CUDA agrees with the CPU on the top-K."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from lmrepro.rec.beam_search import constrained_beam_search
from lmrepro.rec.examples import pad_batch
from lmrepro.rec.models.sasrec import SasRec, SasRecConfig, _left_pad, sasrec_topk, train_sasrec
from lmrepro.rec.models.t5 import T5Geometry, build_t5
from lmrepro.rec.train import TrainConfig, rank_users, train_seq2seq
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import EOS, Vocab
from lmrepro.runtime import resolve_device

# dropout on, so the check also covers the dropout RNG stream
TINY = T5Geometry(d_model=32, d_ff=8, num_layers=2, num_decoder_layers=2, num_heads=2, d_kv=16, dropout=0.1)
CFG = TrainConfig(epochs=2, batch_size=8, num_beams=5, eval_batch=4, warmup=0.2)
CPU_ARGS = [{}, {"device": "cpu"}, {"device": torch.device("cpu"), "amp": True}]
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def task():
    """40 random 3-token item IDs, 30 (history -> item) examples, 6 evaluation inputs."""
    rng = np.random.default_rng(0)
    ids = sorted({tuple(int(x) for x in rng.integers(0, 4, 3)) for _ in range(200)})[:40]
    vocab = Vocab.from_ids(ids)
    items = [vocab.encode(t) for t in ids]
    trie = Trie(items, vocab.size)
    examples = []
    for _ in range(30):
        hist = rng.integers(0, len(ids), rng.integers(1, 4))
        examples.append(([tok for i in hist for tok in items[i]] + [EOS], items[int(rng.integers(len(ids)))] + [EOS]))
    inputs = [e[0] for e in examples[:6]]
    return vocab, trie, examples, inputs


def _model(vocab):
    torch.manual_seed(0)
    return build_t5(TINY, vocab.size)


def _reference_training(model, examples, cfg: TrainConfig, seed: int) -> dict[str, torch.Tensor]:
    """The training loop written plainly on the CPU (papers.md: AdamW, 5% warm-up then
    linear decay, grad clip): the oracle the device-aware loop must match bit for bit."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
    total = (len(examples) + cfg.batch_size - 1) // cfg.batch_size * cfg.epochs
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup * total), total)
    for _ in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(examples), generator=g).tolist()
        for s in range(0, len(perm), cfg.batch_size):
            batch = [examples[i] for i in perm[s : s + cfg.batch_size]]
            ids, mask = pad_batch([b[0] for b in batch])
            labels, _ = pad_batch([b[1] for b in batch], fill=-100)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            sched.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kw", CPU_ARGS, ids=["default", "cpu-str", "cpu-amp"])
def test_t5_training_on_cpu_is_bit_identical_to_the_plain_loop(task, kw):
    vocab, trie, examples, inputs = task
    ref_model = _model(vocab)
    ref = _reference_training(ref_model, examples, CFG, seed=3)
    model = _model(vocab)
    hr = iter([0.1, 0.2])  # the last epoch is the best: its weights are returned
    best, summary = train_seq2seq(model, examples, lambda m: {"hr@20": next(hr)}, CFG, seed=3, **kw)
    assert summary["best_epoch"] == 1
    assert best.keys() == ref.keys()
    for k in ref:
        assert best[k].device.type == "cpu"
        assert torch.equal(best[k], ref[k]), k
    # evaluation on the trained model: the same lists as the reference model's
    amp = kw.get("amp", False)
    assert np.array_equal(rank_users(model, inputs, trie, CFG, amp=amp), rank_users(ref_model, inputs, trie, CFG))


def test_beam_search_amp_is_a_noop_on_cpu(task):
    vocab, trie, _, inputs = task
    model = _model(vocab).eval()
    ids, mask = pad_batch(inputs)
    a, sa = constrained_beam_search(model, ids, mask, trie, 5)
    b, sb = constrained_beam_search(model, ids, mask, trie, 5, amp=True)
    assert a.device.type == "cpu" and torch.equal(a, b) and torch.equal(sa, sb)


def _sasrec_data():
    rng = np.random.default_rng(1)
    return [rng.integers(0, 15, rng.integers(2, 9)) for _ in range(24)]


def _reference_sasrec(seqs, n_items: int, cfg: SasRecConfig, seed: int) -> dict[str, torch.Tensor]:
    """SASRec's training loop written plainly on the CPU (the oracle, as above)."""
    rows = [s for s in seqs if len(s) >= 2]
    torch.manual_seed(seed)
    model = SasRec(n_items, cfg)
    g = torch.Generator().manual_seed(seed)
    inp = _left_pad([s[:-1] for s in rows], cfg.max_len)
    tgt = _left_pad([s[1:] for s in rows], cfg.max_len)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(rows), generator=g)
        for s in range(0, len(rows), cfg.batch_size):
            b = perm[s : s + cfg.batch_size]
            h = model(inp[b])
            t = tgt[b]
            hl = h[t > 0]
            if cfg.loss == "ce":
                loss = torch.nn.functional.cross_entropy(hl @ model.item.weight[1:].T, t[t > 0] - 1)
            else:
                neg = torch.randint(1, n_items + 1, (len(hl),), generator=g)
                pos_s = (hl * model.item(t[t > 0])).sum(-1)
                neg_s = (hl * model.item(neg)).sum(-1)
                loss = (torch.nn.functional.softplus(-pos_s) + torch.nn.functional.softplus(neg_s)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_sasrec_on_cpu_is_bit_identical_to_the_plain_loop(loss):
    seqs = _sasrec_data()
    cfg = SasRecConfig(hidden=16, blocks=2, heads=2, max_len=8, dropout=0.2, epochs=2, batch_size=8, loss=loss)
    ref = _reference_sasrec(seqs, 15, cfg, seed=5)
    for kw in CPU_ARGS:
        hr = iter([0.1, 0.2])  # the last epoch is the best
        m, s = train_sasrec(seqs, 15, lambda m: {"hr@20": next(hr)}, cfg, seed=5, **kw)
        assert s["best_epoch"] == 1
        for k, v in ref.items():
            assert m.state_dict()[k].device.type == "cpu" and torch.equal(m.state_dict()[k], v), (kw, k)
        assert np.array_equal(sasrec_topk(m, seqs, 5, amp=kw.get("amp", False)), sasrec_topk(m, seqs, 5))
    # top-K against scores computed by hand: last position's state . item embeddings
    with torch.no_grad():
        h = m.eval()(_left_pad(seqs, cfg.max_len))[:, -1]  # [U, D]
        top = (h @ m.item.weight[1:].T).topk(5, dim=1).indices.numpy()
    assert np.array_equal(sasrec_topk(m, seqs, 5, batch=7), top)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's resolution")
def test_auto_resolves_to_cpu_and_amp_stays_off_without_cuda():
    from lmrepro.stage import StageContext
    from lmrepro.stages import rec_peer

    assert resolve_device("auto") == torch.device("cpu")
    runtime = {"seed": 0, "threads": 1, "device": "auto", "amp": True}
    ctx = StageContext(rec_peer.stage, argparse.Namespace(), {"runtime": runtime}, None)
    assert ctx.device == torch.device("cpu") and ctx.amp is False


# ---- GPU box only: skipped on the CPU machine ----------------------------------------


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of items two [U, K] lists have in common."""
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a.tolist(), b.tolist())]))


@cuda_only
@pytest.mark.parametrize("amp", [False, True])
def test_cuda_beam_search_agrees_with_cpu(task, amp):
    vocab, trie, examples, _ = task
    model = _model(vocab)
    best, _ = train_seq2seq(model, examples, lambda m: {"hr@20": 0.0}, CFG, seed=3)  # a non-uniform model
    model.load_state_dict(best)
    inputs = [e[0] for e in examples]
    cpu = rank_users(model.eval(), inputs, trie, CFG)
    gpu = rank_users(model.to("cuda"), inputs, trie, CFG, amp=amp)
    assert gpu.shape == cpu.shape and (gpu >= 0).all() and (gpu < trie.n_items).all()
    # fp32 differs from the CPU only in summation order; bf16 may swap near-ties
    assert _overlap(cpu, gpu) >= (0.95 if not amp else 0.6)


@cuda_only
@pytest.mark.parametrize("amp", [False, True])
def test_cuda_training_returns_cpu_weights_and_matches_cpu_loss(task, amp):
    vocab, _, examples, _ = task
    cfg = TrainConfig(epochs=1, batch_size=8, num_beams=5, eval_batch=4)
    cpu_best, cpu_sum = train_seq2seq(_model(vocab), examples, lambda m: {"hr@20": 0.0}, cfg, seed=3)
    gpu_best, gpu_sum = train_seq2seq(_model(vocab), examples, lambda m: {"hr@20": 0.0}, cfg, seed=3,
                                      device="cuda", amp=amp)
    assert all(v.device.type == "cpu" for v in gpu_best.values())
    # dropout draws differ between devices: the same data and init still give a close loss
    assert gpu_sum["curve"][0]["train_loss"] == pytest.approx(cpu_sum["curve"][0]["train_loss"], rel=0.1)

    seqs = _sasrec_data()
    scfg = SasRecConfig(hidden=16, blocks=2, heads=2, max_len=8, dropout=0.0, epochs=2, batch_size=8)
    m_cpu, _ = train_sasrec(seqs, 15, lambda m: {"hr@20": 0.0}, scfg, seed=5)
    m_gpu, _ = train_sasrec(seqs, 15, lambda m: {"hr@20": 0.0}, scfg, seed=5, device="cuda", amp=amp)
    assert m_gpu.item.weight.device.type == "cuda"
    assert _overlap(sasrec_topk(m_cpu, seqs, 5), sasrec_topk(m_gpu, seqs, 5, amp=amp)) >= (0.9 if not amp else 0.6)
