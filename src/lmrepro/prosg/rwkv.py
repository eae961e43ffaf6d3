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

from lmrepro.errors import LmreproError
from lmrepro.io import atomic_path


@dataclass(frozen=True)
class RwkvModelConfig:
    hidden_size: int = 128  # the state is 5 x hidden x layers floats; small enough to forget
    num_layers: int = 2  # two layers learn the copy task on CPU within minutes
    intermediate_size: int = 512  # 4 x hidden, RWKV's default ratio
    context_length: int = 1024  # only bounds the (unused here) CUDA kernel


def build_model(cfg: RwkvModelConfig, vocab_size: int) -> RwkvForCausalLM:
    config = RwkvConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        attention_hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        context_length=cfg.context_length,
        rescale_every=0,
        tie_word_embeddings=False,
        use_cache=False,
    )
    return RwkvForCausalLM(config)


def save_model(model: RwkvForCausalLM, cfg: RwkvModelConfig, vocab_size: int, folder: Path) -> None:
    """safetensors weights + JSON config (never pickle)."""
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps({"vocab_size": vocab_size, **asdict(cfg)}, indent=2, sort_keys=True))


def load_model(folder: Path) -> tuple[RwkvForCausalLM, RwkvModelConfig]:
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
    if missing or unexpected:
        raise LmreproError(f"{weights}: weights do not match config (missing {missing}, unexpected {unexpected})")
    model.eval()
    return model, cfg


def freeze(model: torch.nn.Module) -> torch.nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
