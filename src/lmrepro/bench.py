"""`make bench`: every benchmark of every track plus the pipeline's own, one table.

Each track exposes ``lmrepro.<track>.bench.run(quick: bool) -> list[BenchResult]``.
The pipeline benchmark runs the smoke DAG in a temporary copy of the repository: a full
run, a no-op rerun (reference: the full run) and a one-knob partial rerun via
``dvc repro`` (reference: the full run). The table is printed and written to
reports/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from lmrepro import config
from lmrepro.benchmark import BenchResult, markdown_table
from lmrepro.io import write_text
from lmrepro.paths import repo_root


def _track_benches() -> dict:
    """{track: its bench module}. Imported here, explicitly, so lmrepro.codedeps sees them;
    in a function so that `--only pipeline` does not load every track's dependencies."""
    from lmrepro.edge import bench as edge
    from lmrepro.mta import bench as mta
    from lmrepro.prosg import bench as prosg
    from lmrepro.rec import bench as rec

    return {"rec": rec, "mta": mta, "prosg": prosg, "edge": edge}


TRACKS = ("rec", "mta", "prosg", "edge")


def copy_sources(root: Path, dest: Path) -> Path:
    """Tracked and untracked-but-not-ignored files (a fresh clone plus local edits),
    without the committed results under reports/.

    Why without reports/: those are the DAG's final outputs. Present and newer than the
    code, they make Snakemake answer "Nothing to be done" in a fresh copy even though no
    data/ exists, so a benchmark or test of a full run would measure nothing.
    """
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        if rel.startswith("reports/"):
            continue
        if (root / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest / rel)
    return dest


def _timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def pipeline_bench(root: Path) -> list[BenchResult]:
    """Smoke DAG: full run vs no-op rerun vs a one-knob partial rerun through DVC."""
    mirror = Path(os.environ.get("LMREPRO_DATA_MIRROR", root.parent / "shared" / "data")).resolve()
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="lmrepro-bench-") as tmp:
        work = Path(tmp) / "repo"
        copy_sources(root, work)
        params = config.load_params(work / "params.yaml", work / "workflow" / "profiles" / "smoke" / "params.yaml")
        params["data"]["mirror"], params["data"]["manifest"] = str(mirror), str(mirror / "MANIFEST.tsv")
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        (work / "dvc.lock").unlink(missing_ok=True)
        env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(work / "src")}
        for var in ("LMREPRO_ROOT", "LMREPRO_INVOCATION_ID", "LMREPRO_ORCHESTRATOR", "MLFLOW_TRACKING_URI"):
            env.pop(var, None)
        subprocess.run("git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm bench", shell=True, cwd=work, check=True)
        # dvc.yaml must describe the smoke DAG (stage names follow the params), as in the e2e tests
        subprocess.run([sys.executable, "-m", "lmrepro.dvcgen", "write"], cwd=work, env=env, check=True, capture_output=True)
        full = _timed(["snakemake", "--cores", "2"], work, env)
        noop = _timed(["snakemake", "--cores", "2"], work, env)
        params["data"]["corpus"]["seed"] += 1
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        partial = _timed([sys.executable, "-m", "dvc", "repro"], work, env)
    return [
        BenchResult("pipeline", "smoke DAG, full run", full, full, "s", None, note="absolute time of the whole smoke DAG"),
        BenchResult("pipeline", "no-op rerun vs full run", noop, full, "s", 5.0),
        BenchResult("pipeline", "one-knob dvc repro (data.corpus.seed) vs full run", partial, full, "s", 1.5),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmrepro.bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a first look)")
    parser.add_argument("--only", nargs="*", default=None, help="tracks to run (rec mta prosg edge pipeline)")
    parser.add_argument("--out", type=Path, default=None, help="Markdown file (default reports/benchmarks.md)")
    args = parser.parse_args(argv)
    root = repo_root()
    results: list[BenchResult] = []
    selected = [t for t in TRACKS if args.only is None or t in args.only]
    if selected:
        benches = _track_benches()
        for track in selected:
            print(f"[bench] {track} ...", file=sys.stderr, flush=True)
            results += benches[track].run(quick=args.quick)
    if args.only is None or "pipeline" in args.only:
        print("[bench] pipeline ...", file=sys.stderr, flush=True)
        results += pipeline_bench(root)
    table = markdown_table(results)
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` (`python -m lmrepro.bench{' --quick' if args.quick else ''}`) on "
        f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}). Each ratio compares "
        "ours with its reference measured in the same run; ratio > 1 means ours is better.\n\n"
    )
    print(table)
    write_text(header + table, args.out or root / "reports" / "benchmarks.md")
    failed = [r for r in results if r.passed is False]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
