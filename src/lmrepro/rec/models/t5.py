"""Generative recommenders as T5 encoder-decoders built from a T5Config (no pretrained
weights): LightLM deep-and-narrow, a wide-and-shallow baseline at a matched parameter
budget, and the P5-like T5-small geometry (papers.md section 1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from transformers import T5Config, T5ForConditionalGeneration

from lmrepro.errors import LmreproError
from lmrepro.rec.vocab import EOS, PAD


@dataclass(frozen=True)
class T5Geometry:
    d_model: int = 512  # T5-small
    d_ff: int = 16  # LightLM: every FFN cut from 2048 to 16
    num_layers: int = 6  # encoder layers (T5-small: 6)
    num_decoder_layers: int = 6
    num_heads: int = 8
    d_kv: int = 64  # per-head width (T5-small: 8 x 64)
    dropout: float = 0.1  # T5 default
    # >0: ignore d_ff and choose it so the model has this many parameters (the
    # wide-and-shallow baseline matches LightLM's budget this way)
    match_params: int = 0
    match: str = ""  # name of another rec.model entry whose parameter count to match

    def __post_init__(self):
        if self.d_model < 1 or self.num_layers < 1 or self.num_decoder_layers < 1:
            raise LmreproError(f"T5 geometry needs positive sizes: {self}")


def t5_config(g: T5Geometry, vocab_size: int) -> T5Config:
    return T5Config(
        vocab_size=vocab_size, d_model=g.d_model, d_ff=g.d_ff, num_layers=g.num_layers,
        num_decoder_layers=g.num_decoder_layers, num_heads=g.num_heads, d_kv=g.d_kv,
        dropout_rate=g.dropout, feed_forward_proj="relu", pad_token_id=PAD, eos_token_id=EOS,
        decoder_start_token_id=PAD, tie_word_embeddings=True,
    )


def count_params(g: T5Geometry, vocab_size: int) -> int:
    """Parameter count without building the model (T5 relu FFN, shared embeddings)."""
    d, f, h = g.d_model, g.d_ff, g.num_heads * g.d_kv
    attn = 4 * d * h
    ffn = 2 * d * f
    rel = 32 * g.num_heads  # relative position bias, first layer of each stack
    enc = g.num_layers * (attn + ffn + 2 * d) + rel + d
    dec = g.num_decoder_layers * (2 * attn + ffn + 3 * d) + rel + d
    return vocab_size * d + enc + dec


def resolve(g: T5Geometry, vocab_size: int) -> T5Geometry:
    """Fix d_ff from match_params (parameter count is linear in d_ff)."""
    if g.match_params <= 0:
        return g
    p0 = count_params(replace(g, d_ff=0), vocab_size)
    slope = count_params(replace(g, d_ff=1), vocab_size) - p0
    d_ff = round((g.match_params - p0) / slope)
    if d_ff < 1:
        raise LmreproError(f"cannot match {g.match_params} params with geometry {g}")
    return replace(g, d_ff=d_ff, match_params=0, match="")


def build_t5(g: T5Geometry, vocab_size: int) -> T5ForConditionalGeneration:
    return T5ForConditionalGeneration(t5_config(resolve(g, vocab_size), vocab_size))


def geometry_dict(g: T5Geometry) -> dict:
    return asdict(g)
