"""A few paper-size training steps per track on the accelerator, with throughput.

Why: a GPU machine is lent rarely and briefly. Before spending hours on
``snakemake --profile paper``, this checks in a few minutes that every track's model
builds at the profile's sizes, trains on ``runtime.device`` under ``runtime.amp`` exactly
as the stages do (same builders, same autocast switch), and how fast one step is. Inputs
are random token ids of the profile's shapes: this measures the machine, not a result.

    python -m lmrepro.gpu_check                          # paper profile, device auto
    python -m lmrepro.gpu_check --profile smoke --device cpu --steps 1   # the CI check

The edge track has no training stage (its simulation is NumPy on the host), so it is
listed without a step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lmrepro.errors import LmreproError

TRACKS = ("rec", "mta", "prosg", "edge")


@dataclass
class CheckResult:
    track: str
    model: str  # what was built, in words
    params: int  # all parameters of the model
    trainable: int  # parameters the step updates
    batch: str  # shape of one step's input
    seconds_per_step: float  # mean over the timed steps (the first, warm-up step excluded)
    throughput: float  # units per second
    unit: str
    peak_memory_mb: float  # device peak (CUDA) or 0 where not measured
    note: str = ""


class _Timer:
    """Wall time of the timed steps; synchronises CUDA so queued kernels are counted."""

    def __init__(self, device) -> None:
        self.device = device

    def sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, step, steps: int) -> float:
        step()  # warm-up: allocator, kernels, autotuning
        self.sync()
        started = time.perf_counter()
        for _ in range(steps):
            step()
        self.sync()
        return (time.perf_counter() - started) / steps


def _peak_mb(device) -> float:
    import torch

    if device.type != "cuda":
        return 0.0
    return torch.cuda.max_memory_allocated(device) / 2**20


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _count(model) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def _time_training(model, loss_fn, lr: float, device, amp: bool, steps: int) -> tuple[float, int, int]:
    """Seconds per AdamW step of ``loss_fn()`` (forward under the stages' autocast switch),
    with all and trainable parameter counts."""
    import torch

    from lmrepro.runtime import autocast

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)

    def step():
        with autocast(device, amp):
            loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        opt.step()

    _reset_peak(device)
    return (_Timer(device).run(step, steps), *_count(model))


# ----------------------------------------------------------------------------- tracks


def check_rec(params: dict, device, amp: bool, steps: int) -> CheckResult:
    """One LightLM (T5, deep-narrow) seq2seq training step at rec.model.lightlm."""
    import torch

    from lmrepro.config import from_dict
    from lmrepro.rec.models.t5 import T5Geometry, build_t5
    g = from_dict(T5Geometry, params["rec"]["model"]["lightlm"], "rec.model.lightlm")
    train = params["rec"]["train"]
    vocab, batch, src_len, tgt_len = 4096, int(train["batch_size"]), 2 * int(train["history"]) + 2, 5
    torch.manual_seed(0)
    model = build_t5(g, vocab).to(device).train()
    ids = torch.randint(2, vocab, (batch, src_len), device=device)
    labels = torch.randint(2, vocab, (batch, tgt_len), device=device)
    mask = torch.ones_like(ids)
    sec, total, trainable = _time_training(
        model, lambda: model(input_ids=ids, attention_mask=mask, labels=labels).loss, float(train["lr"]),
        device, amp, steps)
    return CheckResult("rec", f"T5 d_model {g.d_model}, d_ff {g.d_ff}, {g.num_layers}+{g.num_decoder_layers} layers",
                       total, trainable, f"{batch} x {src_len} -> {tgt_len} tokens", sec, batch / sec,
                       "examples/s", _peak_mb(device), f"vocabulary {vocab} (synthetic ids)")


def check_mta(params: dict, device, amp: bool, steps: int) -> CheckResult:
    """One stage-1 step (adapters + heads, backbone frozen, full forward) on mta.backbone."""
    import torch

    from lmrepro.config import from_dict
    from lmrepro.mta.backbone import DEFAULT_BACKBONE, load_backbone, resolve_backbone
    from lmrepro.mta.mixture import MixtureConfig
    from lmrepro.mta.model import MtaClassifier

    mta = params["mta"]
    spec, note = mta["backbone"], ""
    try:
        resolve_backbone(spec)
    except LmreproError as err:
        note = f"{err}; fell back to {DEFAULT_BACKBONE}"
        spec = DEFAULT_BACKBONE
    encoder, _ = load_backbone(spec)
    mix = from_dict(MixtureConfig, mta["mixture"], "mta.mixture")
    tasks = {"a": 2, "b": 3}
    torch.manual_seed(0)
    model = MtaClassifier(encoder, tasks, mix, "mixture").to(device).train()
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith(("embeddings", "layers")))
    batch, seq = int(mta["stage1"]["batch_size"]), int(mta["data"]["max_len"])
    vocab = encoder.config.vocab_size
    ids = torch.randint(1000, vocab, (batch, seq), device=device)
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    labels = torch.randint(0, 2, (batch,), device=device)
    sec, total, trainable = _time_training(
        model, lambda: torch.nn.functional.cross_entropy(model(ids, mask, types, "a").float(), labels),
        float(mta["stage1"]["lr"]), device, amp, steps)
    cfg = encoder.config
    return CheckResult("mta", f"{cfg.model_type} {cfg.num_hidden_layers} x {cfg.hidden_size} + MTA in top {mix.blocks}",
                       total, trainable, f"{batch} x {seq} tokens", sec, batch / sec, "examples/s",
                       _peak_mb(device), note)


def check_prosg(params: dict, device, amp: bool, steps: int) -> CheckResult:
    """One language-model step of the RWKV base at prosg.model, on text-length windows."""
    import torch

    from lmrepro.config import from_dict
    from lmrepro.prosg.rwkv import RwkvModelConfig, build_model

    p = params["prosg"]
    cfg = from_dict(RwkvModelConfig, p["model"], "prosg.model")
    vocab = int(p["tokenizer"]["vocab_size"])
    batch, length = int(p["pretrain"]["batch_text"]), int(p["pretrain"]["text_length"])
    torch.manual_seed(0)
    model = build_model(cfg, vocab).to(device).train()
    ids = torch.randint(2, vocab, (batch, length), device=device)
    sec, total, trainable = _time_training(
        model, lambda: model(input_ids=ids, labels=ids, use_cache=False).loss, float(p["pretrain"]["lr"]),
        device, amp, steps)
    return CheckResult("prosg", f"RWKV-4 {cfg.num_layers} x {cfg.hidden_size}", total, trainable,
                       f"{batch} x {length} tokens", sec, batch * length / sec, "tokens/s", _peak_mb(device))


def check_edge(params: dict, device, amp: bool, steps: int) -> CheckResult:
    return CheckResult("edge", "energy simulation (NumPy, host)", 0, 0, "-", 0.0, 0.0, "-", 0.0,
                       "no training stage: its workload is the MTA bundle")


CHECKS = {"rec": check_rec, "mta": check_mta, "prosg": check_prosg, "edge": check_edge}


def run_checks(params: dict, device_spec: str, amp: bool | None, steps: int, tracks=TRACKS,
               log=print) -> list[CheckResult]:
    import torch

    from lmrepro.runtime import resolve_device

    if steps < 1:
        raise LmreproError("--steps: need at least one timed step")
    device = resolve_device(device_spec)
    amp = bool(params["runtime"]["amp"]) if amp is None else amp
    torch.set_num_threads(int(params["runtime"]["threads"]))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    log(f"device {device} ({name}), amp {amp and device.type == 'cuda'}, {steps} timed step(s) per track")
    results = []
    for track in tracks:
        started = time.perf_counter()
        res = CHECKS[track](params, device, amp, steps)
        results.append(res)
        log(f"  {track}: {res.seconds_per_step:.3f} s/step, {res.throughput:,.1f} {res.unit} "
            f"({time.perf_counter() - started:.1f} s with build)")
    return results


def table(results: list[CheckResult]) -> str:
    lines = ["| track | model | params | trainable | batch | s/step | throughput | peak MB | note |",
             "|---|---|---:|---:|---|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.track} | {r.model} | {r.params:,} | {r.trainable:,} | {r.batch} | "
                     f"{r.seconds_per_step:.3f} | {r.throughput:,.1f} {r.unit} | {r.peak_memory_mb:,.0f} | {r.note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from lmrepro.config import load_params, profile_file, validate_params
    from lmrepro.paths import repo_root

    ap = argparse.ArgumentParser(prog="python -m lmrepro.gpu_check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="paper", help="params overlay (workflow/profiles/<name>/params.yaml)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--amp", choices=("on", "off"), default=None, help="override runtime.amp")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per track (after one warm-up step)")
    ap.add_argument("--tracks", nargs="+", default=list(TRACKS), choices=TRACKS)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        params = load_params(repo_root() / "params.yaml", profile_file(args.profile))
        validate_params(params, source=f"params.yaml + profile {args.profile}")
        amp = None if args.amp is None else args.amp == "on"
        results = run_checks(params, args.device, amp, args.steps, args.tracks)
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(results), end="")
    if args.json is not None:
        from lmrepro.io import write_json

        write_json({"profile": args.profile, "device": args.device, "results": [asdict(r) for r in results]},
                   args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
