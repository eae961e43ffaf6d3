"""Generation speed: ProSG vs the plain base model vs prompt re-feeding, in ONE run.

    python -m lmrepro.prosg.bench [--model models/prosg/base/s<seed>] [--generated 256] ...

Every variant generates the same number of tokens token by token with the recurrent
state passed along (the deployment path), from the same model, so the state size is
identical. ProSG pays once per sequence (the prompt-state pass and the generator and, at
batch 1, folding the update into swapped-in weights; at larger batches a rank-r correction
per hooked matrix per token); re-feeding pays the prompt's tokens again
every ``--refeed-every`` generated tokens. Rounds are interleaved and the median is taken
so a noisy shared machine hurts all variants alike. Target: ProSG >= 0.9x the base's
tokens per second.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from lmrepro.measure import CheckResult, peak_mb, time_training
from lmrepro.prosg.rwkv import RwkvModelConfig, build_model, freeze, load_model
from lmrepro.prosg.synthetic_gradient import ProsgConfig, ProsgGenerator, applied, generate_update


@torch.no_grad()
def _run(model, generator, prompt: torch.Tensor, generated: int, refeed_every: int, mode: str) -> float:
    """Seconds to feed the prompt and generate ``generated`` tokens; prompt (b, p)."""
    start = time.perf_counter()
    out = model(input_ids=prompt, use_cache=True)
    state, logits = out.state, out.logits[:, -1]
    update = None
    if mode == "prosg":
        update = generate_update(model, generator, prompt, torch.full((prompt.shape[0],), prompt.shape[1]))
    with applied(model, update):
        for step in range(generated):
            if mode == "refeed" and step > 0 and step % refeed_every == 0:
                out = model(input_ids=prompt, state=state, use_cache=True)
                state = out.state
            nxt = logits.argmax(-1, keepdim=True)  # (b, 1)
            out = model(input_ids=nxt, state=state, use_cache=True)
            state, logits = out.state, out.logits[:, -1]
    return time.perf_counter() - start


def gpu_step(params: dict, device, amp: bool, steps: int) -> CheckResult:
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
    sec, total, trainable = time_training(
        model, lambda: model(input_ids=ids, labels=ids, use_cache=False).loss, float(p["pretrain"]["lr"]),
        device, amp, steps)
    return CheckResult("prosg", f"RWKV-4 {cfg.num_layers} x {cfg.hidden_size}", total, trainable,
                       f"{batch} x {length} tokens", sec, batch * length / sec, "tokens/s", peak_mb(device))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="trained base (folder); default: a fresh one")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--generated", type=int, default=256)
    parser.add_argument("--refeed-every", type=int, default=64)
    parser.add_argument("--rank", type=int, default=ProsgConfig.rank)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model is not None:
        model, _ = load_model(args.model)
    else:
        model = build_model(RwkvModelConfig(), vocab_size=512)
    model = freeze(model)
    generator = ProsgGenerator(model, ProsgConfig(rank=args.rank)).eval()
    prompt = torch.randint(2, model.config.vocab_size, (args.batch, args.prompt_tokens))
    times: dict[str, list[float]] = {"base": [], "prosg": [], "refeed": []}
    _run(model, generator, prompt, 8, args.refeed_every, "prosg")  # warm-up
    for _ in range(args.rounds):
        for mode in times:
            times[mode].append(_run(model, generator, prompt, args.generated, args.refeed_every, mode))
    tps = {m: args.batch * args.generated / statistics.median(t) for m, t in times.items()}
    print(f"state: {5 * model.config.hidden_size * model.config.num_hidden_layers} floats per sequence (all variants)")
    for m, v in tps.items():
        print(f"{m:>7}: {v:9.1f} generated tokens/s (median of {args.rounds})")
    ratios = {"prosg_vs_base": tps["prosg"] / tps["base"], "prosg_vs_refeed": tps["prosg"] / tps["refeed"],
              **{f"tps_{m}": v for m, v in tps.items()}}
    print(f"ratio prosg/base   = {ratios['prosg_vs_base']:.3f}  (target >= 0.9)")
    print(f"ratio prosg/refeed = {ratios['prosg_vs_refeed']:.3f}  (re-feeding the {args.prompt_tokens}-token prompt "
          f"every {args.refeed_every} tokens)")
    return ratios


def run(quick: bool = False) -> list:
    """For `make bench`: the same measurement, as ratios against the base and re-feeding."""
    from lmrepro.measure import BenchResult

    bases = sorted(Path("models/prosg/base").glob("s*"))  # one base per prosg.seeds entry: the first
    model = bases[0] if bases else Path("models/prosg/base")
    # 15 interleaved rounds: with 5 the median still swung 0.78-1.18x between runs on a shared machine
    args = ["--generated", "64" if quick else "256", "--rounds", "3" if quick else "15"]
    if (model / "model.safetensors").is_file():
        args += ["--model", str(model)]
    r = main(args)
    note = "trained base" if "--model" in args else "fresh base (run the pipeline for the trained one)"
    return [
        BenchResult("prosg", "generation tokens/s: ProSG vs no update (same state size)", r["tps_prosg"], r["tps_base"],
                    "tok/s", 0.9, higher_is_better=True, note=note),
        BenchResult("prosg", "generation tokens/s: ProSG vs prompt re-feeding every 64 tokens", r["tps_prosg"],
                    r["tps_refeed"], "tok/s", None, higher_is_better=True, note=note),
    ]


if __name__ == "__main__":
    main()
