"""`make bench`: every benchmark of every track plus the pipeline's own, one table.

Each track exposes ``lmrepro.<track>.bench.run(quick: bool) -> list[BenchResult]``; the
tracks are those of :data:`lmrepro.tracks.TRACKS`. The pipeline benchmark runs the smoke
DAG in a temporary smoke copy of the repository (:mod:`lmrepro.tools.smoke_copy`): a full
run, a no-op rerun (reference: the full run) and a one-knob partial rerun via
``dvc repro`` (reference: the full run). The table is printed and written to
reports/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from lmrepro import config
from lmrepro.io import write_text
from lmrepro.measure import BenchResult, markdown_table
from lmrepro.paths import data_mirror, repo_root
from lmrepro.tools.smoke_copy import copy_env, smoke_copy, write_smoke_params
from lmrepro.tracks import TRACKS, by_track


def _track_benches() -> dict:
    """{track: its ``bench.run``}, ordered and checked against :data:`lmrepro.tracks.TRACKS`.
    Explicit imports so lmrepro.codedeps sees them; in a function so that `--only pipeline`
    does not load every track's dependencies."""
    from lmrepro.edge.bench import run as edge
    from lmrepro.mta.bench import run as mta
    from lmrepro.prosg.bench import run as prosg
    from lmrepro.rec.bench import run as rec

    return by_track({"rec": rec, "mta": mta, "prosg": prosg, "edge": edge}, "benchmarks")


def _timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def pipeline_bench(root: Path) -> list[BenchResult]:
    """Smoke DAG: full run vs no-op rerun vs a one-knob partial rerun through DVC."""
    mirror = data_mirror(root=root).resolve()
    with tempfile.TemporaryDirectory(prefix="lmrepro-bench-") as tmp:
        work = smoke_copy(root, Path(tmp) / "repo", mirror)
        env = copy_env(work, mirror)
        full = _timed(["snakemake", "--cores", "2"], work, env)
        noop = _timed(["snakemake", "--cores", "2"], work, env)
        params = config.load_params(work / "params.yaml")
        params["data"]["corpus"]["seed"] += 1
        write_smoke_params(work, mirror, params)
        partial = _timed([sys.executable, "-m", "dvc", "repro"], work, env)
    return [
        BenchResult("pipeline", "smoke DAG, full run", full, full, "s", None, note="absolute time of the whole smoke DAG"),
        BenchResult("pipeline", "no-op rerun vs full run", noop, full, "s", 5.0),
        BenchResult("pipeline", "one-knob dvc repro (data.corpus.seed) vs full run", partial, full, "s", 1.5),
    ]


def kept_rows(path: Path, remeasured: set[str]) -> list[str]:
    """The table rows of an existing benchmarks file whose track was not re-measured now.
    Why: one track's benchmarks take minutes to hours of an idle machine; refreshing them
    must not throw away the other tracks' rows (each row is a ratio measured in one run)."""
    if not path.is_file():
        return []
    rows = [ln for ln in path.read_text().splitlines() if ln.startswith("| ") and not ln.startswith("| track |")]
    return [ln for ln in rows if ln.split("|")[1].strip() not in remeasured]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmrepro.tools.bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a first look)")
    parser.add_argument("--only", nargs="*", default=None, help="tracks to run (rec mta prosg edge pipeline)")
    parser.add_argument("--out", type=Path, default=None, help="Markdown file (default reports/benchmarks.md)")
    parser.add_argument("--keep-others", action="store_true",
                        help="with --only: keep the other tracks' rows of the existing file (measured in their own run)")
    args = parser.parse_args(argv)
    if args.keep_others and args.only is None:
        raise SystemExit("--keep-others needs --only (which tracks are re-measured)")
    root = repo_root()
    results: list[BenchResult] = []
    selected = [t for t in TRACKS if args.only is None or t in args.only]
    if selected:
        benches = _track_benches()
        for track in selected:
            print(f"[bench] {track} ...", file=sys.stderr, flush=True)
            results += benches[track](quick=args.quick)
    if args.only is None or "pipeline" in args.only:
        print("[bench] pipeline ...", file=sys.stderr, flush=True)
        results += pipeline_bench(root)
    table = markdown_table(results)
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` (`python -m lmrepro.tools.bench{' --quick' if args.quick else ''}`) on "
        f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}). Each ratio compares "
        "ours with its reference measured in the same run; ratio > 1 means ours is better.\n\n"
    )
    out = args.out or root / "reports" / "benchmarks.md"
    print(table)
    if args.keep_others:
        kept = kept_rows(out, set(args.only))
        header += (f"Rows of {', '.join(args.only)}: this run ({date.today().isoformat()}); the other rows: the "
                   "previous run of this file, kept (`--keep-others`).\n\n")
        table = table + "".join(row + "\n" for row in kept)
    write_text(header + table, out)
    failed = [r for r in results if r.passed is False]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
