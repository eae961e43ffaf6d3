"""A few paper-size training steps per track on the accelerator, with throughput.

Why: a GPU machine is lent rarely and briefly. Before spending hours on
``snakemake --profile paper``, this checks in a few minutes that every track's model
builds at the profile's sizes, trains on ``runtime.device`` under ``runtime.amp`` exactly
as the stages do (same builders, same autocast switch), and how fast one step is. Inputs
are random token ids of the profile's shapes: this measures the machine, not a result.

    python -m lmrepro.tools.gpu_check                          # paper profile, device auto
    python -m lmrepro.tools.gpu_check --profile smoke --device cpu --steps 1   # the CI check

Each track's step is its ``bench.gpu_step`` (the track knows its models); this module
only times, tabulates and writes. The edge track has no training stage (its simulation
is NumPy on the host), so it is listed without a step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from lmrepro.errors import LmreproError
from lmrepro.measure import CheckResult
from lmrepro.tracks import TRACKS, by_track


def _steps() -> dict:
    """{track: its ``bench.gpu_step``}, ordered and checked against :data:`lmrepro.tracks.TRACKS`.
    Explicit imports so :mod:`lmrepro.codedeps` sees them."""
    from lmrepro.edge.bench import gpu_step as edge
    from lmrepro.mta.bench import gpu_step as mta
    from lmrepro.prosg.bench import gpu_step as prosg
    from lmrepro.rec.bench import gpu_step as rec

    return by_track({"rec": rec, "mta": mta, "prosg": prosg, "edge": edge}, "GPU check steps")


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
    steps_of = _steps()
    for track in tracks:
        started = time.perf_counter()
        res = steps_of[track](params, device, amp, steps)
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

    ap = argparse.ArgumentParser(prog="python -m lmrepro.tools.gpu_check", description=__doc__.split("\n\n")[0])
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
