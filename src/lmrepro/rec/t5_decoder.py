"""Incremental T5 decoding for beam search, with the encoder side computed once per user.

transformers' generate() (and a plain cached model call) keeps one copy of every
cross-attention key/value per beam: B*K rows of [S, D] per layer, copied again whenever
beams are reordered. Those rows are identical for the K beams of a user, so here they are
projected once per user ([B, H, S, dk]) and the K beams' queries attend to them together
as a [B, H, K, dk] block. The self-attention cache holds one [L, N, H, dk] tensor per decoded
step (at most T = trie depth, tiny); a reorder is one index_select per filled step. Everything
else (layer norms, feed-forward, output head) calls the model's own modules, so the
numbers match transformers up to float summation order.

Letters: B users, K beams, N rows being decoded (B at step 0, B*K after), H heads,
S input length, T steps, D model width, dk head width, V vocabulary."""

from __future__ import annotations

import torch

from lmrepro.rec.vocab import PAD


class T5BeamDecoder:
    """Decode step by step; rows are grouped per user (row r belongs to user r // (N/B)).

    Runs where the model is: input_ids, attention_mask, the step tokens and reorder rows
    must be on the model's device; every tensor made here is created there too.
    """

    def __init__(self, model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_steps: int):
        cfg = model.config
        self.model = model
        self.dec = model.get_decoder()
        self.h, self.dk = cfg.num_heads, cfg.d_kv
        self.scale_out = cfg.d_model**-0.5 if getattr(cfg, "scale_decoder_outputs", cfg.tie_word_embeddings) else 1.0
        enc = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, S, D]
        b, s, _ = enc.shape
        self.b = b
        self.cross = []  # per layer: keys, values [B, H, S, dk]
        self.qkv = []  # per layer: self-attention q, k, v projections fused: [3*H*dk, D]
        for blk in self.dec.block:
            sa = blk.layer[0].SelfAttention
            self.qkv.append(torch.cat([sa.q.weight, sa.k.weight, sa.v.weight]))
            att = blk.layer[1].EncDecAttention
            k = att.k(enc).view(b, s, self.h, self.dk).transpose(1, 2)
            v = att.v(enc).view(b, s, self.h, self.dk).transpose(1, 2)
            self.cross.append((k, v))
        self.device = enc.device
        neg = torch.finfo(enc.dtype).min
        self.enc_bias = torch.zeros(b, 1, 1, s, device=self.device).masked_fill(
            attention_mask[:, None, None, :] == 0, neg
        )  # [B, 1, 1, S]
        self.max_steps = max_steps
        self.t = 0
        self.n_layers = len(self.dec.block)
        # self-attention cache: one [L, N, H, dk] tensor per decoded step, so a reorder is
        # a single index_select of each filled step and a step appends without copying
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        rel = self.dec.block[0].layer[0].SelfAttention
        # relative position bias of query t over keys 0..t, for every t: [T, T, 1, H]
        # (compute_bias builds it on the device of the model's bias table)
        self.pos_bias = torch.stack(
            [torch.nn.functional.pad(rel.compute_bias(1, t + 1, past_seen_tokens=t)[0, :, 0], (0, max_steps - t - 1))
             for t in range(max_steps)]
        ).permute(0, 2, 1)[:, :, None, :]

    def start(self) -> torch.Tensor:
        """Step 0 (decoder start token) on B rows -> logits [B, V]."""
        return self.step(torch.full((self.b,), PAD, dtype=torch.int64, device=self.device))

    @torch.no_grad()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [N] the last token of every row -> next-token logits [N, V]."""
        n, t = tokens.numel(), self.t
        if t >= self.max_steps:
            raise ValueError(f"T5BeamDecoder: more than max_steps={self.max_steps} steps")
        per_user = n // self.b
        x = self.dec.embed_tokens(tokens)  # [N, D]
        bias = self.pos_bias[t, : t + 1]  # [t+1, 1, H]
        self.keys.append(x.new_empty(self.n_layers, n, self.h, self.dk))
        self.values.append(x.new_empty(self.n_layers, n, self.h, self.dk))
        for li, blk in enumerate(self.dec.block):
            sa = blk.layer[0]
            att = sa.SelfAttention
            hn = sa.layer_norm(x)
            q, k, v = torch.nn.functional.linear(hn, self.qkv[li]).view(n, 3, self.h, self.dk).unbind(1)
            self.keys[t][li] = k
            self.values[t][li] = v
            # one query over <= T keys: per-step products beat a batched matmul here
            w = torch.softmax(torch.stack([(q * k[li]).sum(-1) for k in self.keys]) + bias, dim=0)  # [t+1, N, H]
            out = sum(w[j, ..., None] * v[li] for j, v in enumerate(self.values))  # [N, H, dk]
            x = x + att.o(out.reshape(n, self.h * self.dk))
            ca = blk.layer[1]
            att = ca.EncDecAttention
            hn = ca.layer_norm(x)
            q = att.q(hn).view(self.b, per_user, self.h, self.dk).transpose(1, 2)  # [B, H, K, dk]
            ck, cv = self.cross[li]
            w = torch.softmax(q @ ck.transpose(-1, -2) + self.enc_bias, dim=-1)  # [B, H, K, S]
            x = x + att.o((w @ cv).transpose(1, 2).reshape(n, self.h * self.dk))
            x = blk.layer[-1](x)  # feed-forward (own residual)
        x = self.dec.final_layer_norm(x) * self.scale_out
        self.t += 1
        return self.model.lm_head(x)

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i of the next step continues row rows[i] of this one ([N'] indices)."""
        self.keys = [k.index_select(1, rows) for k in self.keys]
        self.values = [v.index_select(1, rows) for v in self.values]
