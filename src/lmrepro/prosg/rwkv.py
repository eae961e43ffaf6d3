"""The base RNN-like LM: RWKV-4 from transformers, built from a config and trained here.

Why RWKV-4: its state is fixed-size (five vectors per layer), so whatever the prompt
said must survive in that state across the filler: exactly the forgetting ProSG targets.
transformers' Mamba v1 is unusably slow on CPU; RWKV's CPU path is a plain loop that is
fast enough at this size. ``rescale_every`` is forced to 0 because transformers would
otherwise rescale weights *in place* when switching train/eval, and ProSG promises to
never touch the base weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import RwkvConfig, RwkvForCausalLM
from transformers.models.rwkv import modeling_rwkv

from lmrepro.errors import LmreproError
from lmrepro.io import atomic_path


_library_wkv = modeling_rwkv.rwkv_linear_attention


def _wkv_cpu(time_decay, time_first, key, value, state=None, return_state=False):
    """transformers' CPU WKV recurrence, with O(T) autograd.

    Why: the library reads ``key[:, t]`` and writes ``output[:, t] = ...`` per step; the
    autograd of T slice reads/writes allocates a full-size gradient each, O(T^2) in
    backward (6x the forward at T=400 here). We unbind and stack instead.
    Same arithmetic, same float32 accumulation, so results are identical to the library's.
    """
    if key.device.type != "cpu":
        return _library_wkv(time_decay, time_first, key, value, state=state, return_state=return_state)
    if state is None:
        num = torch.zeros_like(key[:, 0], dtype=torch.float32)  # (b, h)
        den = torch.zeros_like(key[:, 0], dtype=torch.float32)
        mx = torch.zeros_like(key[:, 0], dtype=torch.float32) - 1e38
    else:
        num, den, mx = state
    decay = -torch.exp(time_decay)
    outputs = []
    # unbind once: indexing key[:, t] T times makes backward build T full-size gradients
    for k, v in zip(key.float().unbind(1), value.unbind(1)):
        top = torch.maximum(mx, k + time_first)
        e1, e2 = torch.exp(mx - top), torch.exp(k + time_first - top)
        outputs.append(((e1 * num + e2 * v) / (e1 * den + e2)).to(key.dtype))
        top = torch.maximum(mx + decay, k)
        e1, e2 = torch.exp(mx + decay - top), torch.exp(k - top)
        num, den, mx = e1 * num + e2 * v, e1 * den + e2, top
    new_state = [num, den, mx] if (return_state or state is not None) else None
    return torch.stack(outputs, dim=1), new_state  # (b, t, h)


modeling_rwkv.rwkv_linear_attention = _wkv_cpu


@dataclass(frozen=True)
class RwkvModelConfig:
    hidden_size: int = 128  # the state is 5 x hidden x layers floats; small enough to forget
    num_layers: int = 2  # two layers learn the copy task on CPU within minutes
    intermediate_size: int = 512  # 4 x hidden, RWKV's default ratio
    context_length: int = 1024  # only bounds the (unused here) CUDA kernel
    tie_embeddings: bool = True  # head = embedding^T: copying a prompt word becomes an identity map, learnt fast


def build_model(cfg: RwkvModelConfig, vocab_size: int) -> RwkvForCausalLM:
    config = RwkvConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        attention_hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        context_length=cfg.context_length,
        rescale_every=0,
        tie_word_embeddings=cfg.tie_embeddings,
        use_cache=False,
    )
    return RwkvForCausalLM(config)


def save_model(model: RwkvForCausalLM, cfg: RwkvModelConfig, vocab_size: int, folder: Path, tokenizer=None) -> None:
    """safetensors weights + JSON config (+ tokenizer.json), replaced as one folder."""
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        if tokenizer is not None:
            tokenizer.save(str(tmp / "tokenizer.json"))
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                 if not (cfg.tie_embeddings and k == "head.weight")}  # tied: stored once, as the embedding
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps({"vocab_size": vocab_size, **asdict(cfg)}, indent=2, sort_keys=True))


def load_model(folder: Path, device="cpu") -> tuple[RwkvForCausalLM, RwkvModelConfig]:
    folder = Path(folder)
    cfg_path, weights = folder / "config.json", folder / "model.safetensors"
    for path in (cfg_path, weights):
        if not path.is_file():
            raise LmreproError(f"{path}: model file not found")
    raw = json.loads(cfg_path.read_text())
    try:
        vocab_size = raw.pop("vocab_size")
        cfg = RwkvModelConfig(**raw)
    except (KeyError, TypeError) as err:
        raise LmreproError(f"{cfg_path}: bad model config ({err})") from err
    model = build_model(cfg, vocab_size)
    missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
    if cfg.tie_embeddings:
        missing = [k for k in missing if k != "head.weight"]
    if missing or unexpected:
        raise LmreproError(f"{weights}: weights do not match config (missing {missing}, unexpected {unexpected})")
    return model.to(device).eval(), cfg


def freeze(model: torch.nn.Module) -> torch.nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
