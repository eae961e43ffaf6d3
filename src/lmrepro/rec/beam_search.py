"""Trie-constrained beam search, batched over users (LightLM's constrained generation:
every returned sequence is a real item).

Semantics follow transformers' beam search with length_penalty=0 and
early_stopping=False (the canonical algorithm: a hypothesis' score is the sum of its
token log-probabilities): per step the 2K best continuations are taken, those ending in
EOS among the first K ranks become finished hypotheses (the best K are kept), the best K
others keep running; the search ends when no running beam can beat the K-th finished one.
The difference is cost: the trie gives the allowed tokens of all B*K beams as one tensor
op instead of B*K Python callbacks, and the encoder and its cross-attention keys/values
are computed and stored once per user, not once per beam (t5_decoder.py).

Devices: the decoder runs where the model is (inputs are moved there, bf16 autocast on
CUDA when `amp`); the trie book-keeping stays on the CPU. Each step copies the [N, V]
logits to the CPU and the chosen tokens and reorder rows back: one sync per step, and the
depth is only ~4-5 steps. On CPU every copy is a no-op, so CPU results do not change.

Letters: B users, K beams, V vocabulary, S input length, D model width."""

from __future__ import annotations

import numpy as np
import torch

from lmrepro.rec.t5_decoder import T5BeamDecoder
from lmrepro.rec.trie import Trie
from lmrepro.rec.vocab import EOS, PAD
from lmrepro.runtime import autocast

NEG = -1.0e9  # HF's "impossible" score offset


@torch.no_grad()
def constrained_beam_search(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, trie: Trie, num_beams: int,
    amp: bool = False, exclude: list | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids, attention_mask: [B, S] (any device: moved to the model's) -> (items [B, K]
    trie item indices, -1 if fewer than K exist; scores [B, K] summed log-probabilities),
    best first, both on the CPU. amp: bf16 autocast of the decoder on CUDA (no-op on CPU).
    exclude: [B] arrays of item indices the user may not get (rec.eval.exclude_history):
    their closing EOS is forbidden, so the beams go to the next-best allowed items and the
    list still holds K items when the catalogue has them; None forbids nothing."""
    b, k, v = input_ids.size(0), num_beams, trie.vocab_size
    banned_keys = None
    if exclude is not None:
        if len(exclude) != b:
            raise ValueError(f"exclude: {len(exclude)} users for a batch of {b}")
        # key user * n_items + item of every forbidden (user, item) pair, for torch.isin
        banned_keys = torch.cat([torch.as_tensor(np.asarray(e, dtype=np.int64)) + u * trie.n_items
                                 for u, e in enumerate(exclude)] + [torch.zeros(0, dtype=torch.int64)])
        row_user = torch.arange(b * k) // k  # [B*K] user of every beam row
    device = next(model.parameters()).device
    # Step 0 runs on B rows (all K beams of a user are still identical); the encoder's
    # cross-attention keys/values stay at one copy per user for the whole search.
    with autocast(device, amp):
        dec = T5BeamDecoder(model, input_ids.to(device), attention_mask.to(device), trie.depth)
        logits = dec.start()  # [B, V]
    run_scores = torch.zeros(b, k)
    run_scores[:, 1:] = NEG  # all beams start identical: only beam 0 may expand at step 0
    nodes = torch.zeros(b * k, dtype=torch.int64)  # trie node of every running beam
    fin_scores = torch.full((b, k), NEG)
    fin_items = torch.full((b, k), -1, dtype=torch.int64)
    fin_flag = torch.zeros(b, k, dtype=torch.bool)
    open_ = torch.ones(b, 1, dtype=torch.bool)  # early-stop heuristic still unsatisfied
    first_k = torch.arange(2 * k) < k  # [2K]
    for step in range(trie.depth):
        if step > 0:
            with autocast(device, amp):
                logits = dec.step(last.to(device))  # [B*K, V]
        logp = torch.log_softmax(logits.float().cpu(), dim=-1)
        if step == 0:
            logp = logp.repeat_interleave(k, 0)  # [B*K, V]
        logp = logp + trie.mask(nodes.clamp(min=0))
        if banned_keys is not None and len(banned_keys):
            eos_item = trie.item_of[trie.step(nodes.clamp(min=0), torch.full_like(nodes, EOS)).clamp(min=0)]
            forbid = (eos_item >= 0) & torch.isin(row_user * trie.n_items + eos_item, banned_keys)
            logp[forbid, EOS] = float("-inf")
        cand = (logp.view(b, k, v) + run_scores[:, :, None]).view(b, k * v)
        top_s, top_i = cand.topk(2 * k, dim=1)  # [B, 2K]
        src = torch.arange(b)[:, None] * k + top_i // v  # flat source beam [B, 2K]
        tok = top_i % v
        child = trie.step(nodes[src.flatten()], tok.flatten()).view(b, 2 * k)
        is_eos = tok == EOS
        # finished hypotheses: EOS among the first K ranks, while improvement is possible
        done = is_eos & first_k[None, :]
        if banned_keys is not None:  # a forbidden item's -inf EOS never finishes a hypothesis
            done = done & torch.isfinite(top_s)
        f_s = top_s + (~done) * NEG + (~open_) * NEG
        f_item = trie.item_of[child.clamp(min=0)] * done + (-1) * (~done)
        all_s = torch.cat([fin_scores, f_s], 1)
        sel = all_s.topk(k, dim=1).indices
        fin_scores = all_s.gather(1, sel)
        fin_items = torch.cat([fin_items, f_item], 1).gather(1, sel)
        fin_flag = torch.cat([fin_flag, done], 1).gather(1, sel)
        # running beams: the best K continuations that did not end
        r_s = top_s + is_eos * NEG
        sel = r_s.topk(k, dim=1).indices
        run_scores = r_s.gather(1, sel)
        beam_src = src.gather(1, sel).flatten()  # [B*K]
        nodes = child.gather(1, sel).flatten()
        last = tok.gather(1, sel).flatten()
        worst = torch.where(fin_flag, fin_scores.min(1, keepdim=True).values, torch.tensor(NEG))
        open_ = open_ & (run_scores[:, :1] > worst).any(1, keepdim=True)
        if not open_.any() or step == trie.depth - 1:
            break
        dec.reorder((beam_src // k if step == 0 else beam_src).to(device))
    fin_items = torch.where(fin_flag, fin_items, torch.full_like(fin_items, -1))
    return fin_items, fin_scores


def hf_beam_search(model, input_ids, attention_mask, trie: Trie, num_beams: int):
    """The reference: transformers generate() with prefix_allowed_tokens_fn, same trie.
    Returns the same (items [B, K], scores [B, K]) layout."""

    def allowed(batch_id, sent):
        node = trie.walk(sent[1:].tolist())  # drop the decoder start token
        # a dead beam (invalid prefix, or already past EOS) may only continue with PAD
        return (trie.allowed(node) if node >= 0 else []) or [PAD]

    out = model.generate(
        input_ids=input_ids, attention_mask=attention_mask, num_beams=num_beams,
        num_return_sequences=num_beams, max_new_tokens=trie.depth, length_penalty=0.0,
        early_stopping=False, do_sample=False, prefix_allowed_tokens_fn=allowed,
        output_scores=True, return_dict_in_generate=True, decoder_start_token_id=PAD,
        eos_token_id=EOS, pad_token_id=PAD,
    )
    seqs = out.sequences  # [B*K, L]
    items = []
    for s in seqs.tolist():
        toks = s[1:]
        node = trie.walk(toks[: toks.index(EOS) + 1] if EOS in toks else toks)
        items.append(int(trie.item_of[node]) if node >= 0 else -1)
    b = input_ids.size(0)
    return torch.tensor(items).view(b, num_beams), out.sequences_scores.view(b, num_beams)
