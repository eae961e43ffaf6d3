"""ProSG: prompt states -> a temporary low-rank weight update (a "synthetic gradient").

Our reading of Luo et al. (arXiv 2311.01981), whose code is not public: a small
generator maps the LM's states at the end of the prompt to r pairs (a_i, b_i) per chosen
matrix W (chosen layers x chosen matrices). For the rest of the sequence the layer
computes with

    W' = W - eta * sum_i a_i b_i^T        i.e.   y = W x - eta * A (B^T x)

in factored form (never materialising W'), and the update is dropped at the end of the
sequence. The base weights are never written: the update lives in forward hooks that
exist only inside :func:`applied`.

Einstein letters: b batch, t time, i in-features, o out-features, r rank, p prompt tokens.

Anchors: synthetic gradients (Jaderberg et al. 2017), MEND's low-rank gradient edits
(Mitchell et al. 2022), test-time training (Sun et al. 2024), Temp-LoRA (2024).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn

from lmrepro.errors import LmreproError

MATRICES = [
    "attention.key",
    "attention.value",
    "attention.receptance",
    "attention.output",
    "feed_forward.key",
    "feed_forward.receptance",
    "feed_forward.value",
]


@dataclass(frozen=True)
class ProsgConfig:
    rank: int = 8  # r pairs per matrix: enough to spell a 5-digit key, tiny next to 128x512
    eta: float = 1.0  # step size of the synthetic gradient; the generator learns the scale anyway
    layers: list[int] = field(default_factory=lambda: [-1])  # last layer: closest to the output
    matrices: list[str] = field(default_factory=lambda: ["feed_forward.value"])  # FFN write-out: key-value memory
    generator_hidden: int = 256  # width of the state -> factors MLP

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise LmreproError("prosg.update.rank: must be >= 1")
        bad = [m for m in self.matrices if m not in MATRICES]
        if bad or not self.matrices:
            raise LmreproError(f"prosg.update.matrices: unknown {bad} (choose from {MATRICES})")
        if not self.layers:
            raise LmreproError("prosg.update.layers: need at least one layer")


def target_names(model: nn.Module, cfg: ProsgConfig) -> list[str]:
    """Module names of the chosen matrices, e.g. ``rwkv.blocks.1.feed_forward.value``."""
    n_layers = len(model.rwkv.blocks)
    names = []
    for layer in cfg.layers:
        idx = layer % n_layers if -n_layers <= layer < n_layers else None
        if idx is None:
            raise LmreproError(f"prosg.update.layers: layer {layer} out of range for a {n_layers}-layer model")
        names.extend(f"rwkv.blocks.{idx}.{m}" for m in cfg.matrices)
    return names


@dataclass
class LowRankUpdate:
    """Per-example factors: delta W_b = eta * A_b B_b^T for every target matrix."""

    factors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # name -> (A (b,o,r), B (b,i,r))
    eta: float

    def dense_delta(self, name: str) -> torch.Tensor:
        """(b, o, i): eta * A B^T, materialised (tests and the gradient regression only)."""
        a, b = self.factors[name]
        return self.eta * torch.einsum("bor,bir->boi", a, b)

    def frobenius(self) -> torch.Tensor:
        """(b,) norm of the whole update over all target matrices."""
        total = 0.0
        for name in self.factors:
            total = total + self.dense_delta(name).pow(2).sum(dim=(1, 2))
        return total.sqrt()


@contextlib.contextmanager
def applied(model: nn.Module, update: LowRankUpdate | None, start: torch.Tensor | None = None) -> Iterator[None]:
    """Run ``model`` with y = W x - eta A (B^T x) on the targets, for positions t >= start.

    ``start`` (b,) is per example; None means every position of every call (used when
    generating token by token after the prompt). Leaving the block removes the hooks,
    which discards the update; the base weights are read, never written.

    One sequence at every position without autograd (token-by-token generation) takes
    another path: W' = W - eta A B^T is formed once and swapped in for the block, since at
    batch 1 a Python hook per matrix per token costs more than the rank-r work it does
    (reports/benchmarks.md, ProSG generation vs no update). Same function up to float
    rounding; the original weight tensors are put back on leaving.
    """
    if update is None:
        yield
        return
    modules = dict(model.named_modules())
    for name in update.factors:
        if name not in modules:
            raise LmreproError(f"ProSG target {name!r} is not a module of the model")
    one_sequence = all(a.shape[0] == 1 for a, _ in update.factors.values())
    if start is None and one_sequence and not torch.is_grad_enabled():
        with _folded(modules, update):
            yield
        return
    handles = []

    def make_hook(a: torch.Tensor, b: torch.Tensor):
        a_t = a.transpose(1, 2)  # (b, r, o)

        def hook(module, inputs, output):
            x = inputs[0]  # (b, t, i)
            xb = torch.matmul(x, b)  # (b, t, r): B^T x, the only O(i r) work per token
            if start is not None:
                t = torch.arange(x.shape[1], device=x.device)
                xb = xb * (t[None, :] >= start[:, None]).unsqueeze(-1).to(xb.dtype)
            # y - eta * A (B^T x) in one fused call: (b, t, o)
            return torch.baddbmm(output, xb, a_t, alpha=-update.eta)

        return hook

    try:
        for name, (a, b) in update.factors.items():
            handles.append(modules[name].register_forward_hook(make_hook(a, b)))
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def _folded(modules: dict[str, nn.Module], update: LowRankUpdate) -> Iterator[None]:
    """Each target's weight replaced by W - eta A B^T (one example's update) until exit."""
    originals = {}
    try:
        for name, (a, b) in update.factors.items():
            module = modules[name]
            originals[name] = module.weight
            folded = module.weight - update.eta * (a[0] @ b[0].T)  # (o, i)
            module.weight = nn.Parameter(folded.to(module.weight.dtype), requires_grad=False)
        yield
    finally:
        for name, weight in originals.items():
            modules[name].weight = weight


# ----------------------------------------------------------------------------- states


def prompt_states(model: nn.Module, prompt_ids: torch.Tensor, prompt_len: torch.Tensor) -> torch.Tensor:
    """(b, L*H): each block's output at the last prompt token, concatenated.

    These summarise the recurrent state after the prompt (a block's output at token t is
    a function of its state and token t). Computed by the base model, no update.
    """
    out = model.rwkv(input_ids=prompt_ids, output_hidden_states=True, use_cache=False)
    per_block = out.hidden_states[:-1]  # L tensors (b, p, H); the last entry is ln_out's
    idx = (prompt_len - 1).view(-1, 1, 1).expand(-1, 1, per_block[0].shape[-1])
    return torch.cat([h.gather(1, idx).squeeze(1) for h in per_block], dim=-1)


# ----------------------------------------------------------------------------- generator


class ProsgGenerator(nn.Module):
    """states (b, L*H) -> for each target: A (b, o, r), B (b, i, r)."""

    def __init__(self, model: nn.Module, cfg: ProsgConfig):
        """Built on CPU (seeded init identical on every device); move it with ``.to``."""
        super().__init__()
        self.cfg = cfg
        self.names = target_names(model, cfg)
        modules = dict(model.named_modules())
        self.shapes = {n: tuple(modules[n].weight.shape) for n in self.names}  # (o, i)
        state_dim = model.config.hidden_size * model.config.num_hidden_layers
        self.trunk = nn.Sequential(
            nn.LayerNorm(state_dim),
            nn.Linear(state_dim, cfg.generator_hidden),
            nn.GELU(),
            nn.Linear(cfg.generator_hidden, cfg.generator_hidden),
            nn.GELU(),
        )
        self.heads_a = nn.ModuleDict()
        self.heads_b = nn.ModuleDict()
        for n, (o, i) in self.shapes.items():
            key = n.replace(".", "_")
            self.heads_a[key] = nn.Linear(cfg.generator_hidden, o * cfg.rank)
            self.heads_b[key] = nn.Linear(cfg.generator_hidden, i * cfg.rank)
            for head in (self.heads_a[key], self.heads_b[key]):
                # small start: the update begins near zero but not at the A=B=0 saddle
                nn.init.normal_(head.weight, std=0.02)
                nn.init.zeros_(head.bias)

    def forward(self, states: torch.Tensor) -> LowRankUpdate:
        h = self.trunk(states)  # (b, hidden)
        factors = {}
        for n, (o, i) in self.shapes.items():
            key = n.replace(".", "_")
            a = self.heads_a[key](h).view(-1, o, self.cfg.rank)  # (b, o, r)
            b = self.heads_b[key](h).view(-1, i, self.cfg.rank)  # (b, i, r)
            factors[n] = (a, b)
        return LowRankUpdate(factors=factors, eta=self.cfg.eta)


def generate_update(model: nn.Module, generator: ProsgGenerator, prompt_ids, prompt_len) -> LowRankUpdate:
    """The ProSG update for a batch of prompts (base model frozen, no grad through it)."""
    with torch.no_grad():
        states = prompt_states(model, prompt_ids, prompt_len)
    return generator(states)


# ----------------------------------------------------------------------------- baselines


def random_update(shapes: dict[str, tuple[int, int]], batch: int, rank: int, eta: float, norm: float,
                  seed: int) -> LowRankUpdate:
    """Gaussian factors of the same rank, scaled so ||eta A B^T||_F (over all targets) = norm."""
    gen = torch.Generator().manual_seed(seed)  # drawn on CPU: the same directions on every device
    device = norm.device if isinstance(norm, torch.Tensor) else "cpu"
    factors = {n: (torch.randn(batch, o, rank, generator=gen).to(device),
                   torch.randn(batch, i, rank, generator=gen).to(device))
               for n, (o, i) in shapes.items()}
    update = LowRankUpdate(factors=factors, eta=eta)
    scale = (norm / update.frobenius().clamp_min(1e-12)).sqrt()  # (b,), split over A and B
    update.factors = {n: (a * scale.view(-1, 1, 1), b * scale.view(-1, 1, 1)) for n, (a, b) in factors.items()}
    return update


def prompt_gradient(model: nn.Module, names: list[str], prompt_ids: torch.Tensor, prompt_len: torch.Tensor,
                    lr: float) -> LowRankUpdate:
    """The true per-example gradient of the prompt-reconstruction loss, in factored form.

    For y = W x the gradient of a loss is sum_t g_t x_t^T (g = dL/dy), i.e. A = G^T,
    B = X^T with rank p (prompt tokens). Loss: mean next-token cross-entropy over each
    example's own prompt tokens, summed over the batch (so examples do not mix). One
    backward pass through the prompt; the base weights are not touched (their .grad is
    not even populated: only the hooked activations are differentiated).
    """
    modules = dict(model.named_modules())
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}

    origin = torch.zeros((), device=prompt_ids.device, requires_grad=True)  # makes frozen activations differentiable

    def make_hook(name):
        def hook(module, args, output):
            inputs[name] = args[0].detach()  # (b, p, i)
            outputs[name] = output + origin  # (b, p, o), same values, now on the graph
            return outputs[name]
        return hook

    handles = [modules[n].register_forward_hook(make_hook(n)) for n in names]
    try:
        with torch.enable_grad():
            logits = model(input_ids=prompt_ids, use_cache=False).logits  # (b, p, V)
            targets = prompt_ids[:, 1:].clone()  # (b, p-1)
            t = torch.arange(targets.shape[1], device=targets.device)
            valid = t[None, :] < (prompt_len[:, None] - 1)
            targets[~valid] = -100
            ce = nn.functional.cross_entropy(logits[:, :-1].float().flatten(0, 1), targets.flatten(), ignore_index=-100,
                                             reduction="none").view_as(targets)
            loss = (ce.sum(1) / valid.sum(1).clamp_min(1)).sum()
            grads = torch.autograd.grad(loss, [outputs[n] for n in names])
    finally:
        for h in handles:
            h.remove()
    factors = {n: (g.detach().transpose(1, 2), inputs[n].transpose(1, 2)) for n, g in zip(names, grads)}
    return LowRankUpdate(factors=factors, eta=lr)


# ----------------------------------------------------------------------------- storage


def save_generator(generator: ProsgGenerator, folder) -> None:
    """safetensors weights + JSON config (never pickle)."""
    import dataclasses
    import json
    from pathlib import Path

    from safetensors.torch import save_file

    from lmrepro.io import atomic_path

    with atomic_path(Path(folder)) as tmp:
        tmp.mkdir(parents=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()},
                  str(tmp / "generator.safetensors"))
        (tmp / "config.json").write_text(json.dumps(dataclasses.asdict(generator.cfg), indent=2, sort_keys=True))


def load_generator(folder, model: nn.Module, device="cpu") -> ProsgGenerator:
    import json
    from pathlib import Path

    from safetensors.torch import load_file

    folder = Path(folder)
    for name in ("config.json", "generator.safetensors"):
        if not (folder / name).is_file():
            raise LmreproError(f"{folder / name}: generator file not found")
    try:
        cfg = ProsgConfig(**json.loads((folder / "config.json").read_text()))
    except TypeError as err:
        raise LmreproError(f"{folder / 'config.json'}: bad generator config ({err})") from err
    generator = ProsgGenerator(model, cfg)
    try:
        generator.load_state_dict(load_file(str(folder / "generator.safetensors")))
    except RuntimeError as err:
        raise LmreproError(f"{folder}: generator weights do not fit the base model ({err})") from err
    return generator.to(device).eval()
