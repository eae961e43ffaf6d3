"""Go on after a killed run: remove Snakemake's stale lock, with one line saying so.

A Snakemake run killed outright (kill -9, OOM, a closed laptop lid on a remote session)
leaves its lock in ``.snakemake/locks``; every later call then stops with a
LockException until someone runs ``snakemake --unlock``. A lock is stale when no
Snakemake process works in this directory any more, which is checked here, so that
``make reproduce`` (and ``python -m lmrepro.unlock && snakemake ...``) just continues;
``--rerun-incomplete`` then reruns the jobs the kill interrupted.

    python -m lmrepro.unlock [--directory DIR]

Exit 0: no lock, or a stale lock removed. Exit 2 (nothing removed): a live Snakemake
process holds the directory, or stage processes are still writing outputs there (jobs
the killed run had started; they keep running after their parent dies).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from lmrepro.errors import EXIT_USER_ERROR, LmreproError
from lmrepro.paths import repo_root


@dataclass(frozen=True)
class Proc:
    pid: int
    cmdline: tuple[str, ...]
    cwd: str | None


def lock_files(root: Path) -> list[Path]:
    """Snakemake's lock files (``.snakemake/locks/<n>.input.lock`` / ``.output.lock``)."""
    folder = root / ".snakemake" / "locks"
    return sorted(folder.glob("*.lock")) if folder.is_dir() else []


def is_snakemake(cmdline: tuple[str, ...]) -> bool:
    """``snakemake ...``, ``python .../bin/snakemake ...`` or ``python -m snakemake ...``."""
    head = list(cmdline[:3])
    if any(Path(arg).name == "snakemake" for arg in head):
        return True
    return any(a == "-m" and b == "snakemake" for a, b in zip(head, head[1:]))


def is_stage(cmdline: tuple[str, ...]) -> bool:
    """A job of this pipeline: ``python -m lmrepro.stages.<name> ...`` (directly or via a shell)."""
    return any("lmrepro.stages." in arg for arg in cmdline)


def workdir(proc: Proc) -> str | None:
    """The directory a Snakemake process works in: ``--directory``/``-d``, else its cwd."""
    args = list(proc.cmdline)
    for i, arg in enumerate(args):
        if arg in ("--directory", "-d") and i + 1 < len(args):
            return os.path.realpath(os.path.join(proc.cwd or "", args[i + 1]))
        if arg.startswith("--directory="):
            return os.path.realpath(os.path.join(proc.cwd or "", arg.split("=", 1)[1]))
    return os.path.realpath(proc.cwd) if proc.cwd else None


def processes() -> list[Proc]:
    """Every process this user may inspect, except this one and its ancestors."""
    me = psutil.Process()
    skip = {me.pid, *(p.pid for p in me.parents())}
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
        info = p.info
        if info["pid"] in skip or not info["cmdline"]:
            continue
        found.append(Proc(info["pid"], tuple(info["cmdline"]), info["cwd"]))
    return found


def live_holders(root: Path, procs: list[Proc]) -> tuple[list[Proc], list[Proc]]:
    """(Snakemake processes working in ``root``, stage processes running in ``root``)."""
    here = os.path.realpath(root)
    snakemakes = [p for p in procs if is_snakemake(p.cmdline) and workdir(p) == here]
    stages = [p for p in procs if is_stage(p.cmdline) and p.cwd and os.path.realpath(p.cwd) == here]
    return snakemakes, stages


def unlock(root: Path, procs: list[Proc] | None = None) -> str | None:
    """Remove a stale lock; returns the message to print (None when there was no lock)."""
    locks = lock_files(root)
    if not locks:
        return None
    snakemakes, stages = live_holders(root, processes() if procs is None else procs)
    if snakemakes:
        pids = ", ".join(str(p.pid) for p in snakemakes)
        raise LmreproError(f"{root}: Snakemake is running here (pid {pids}); wait for it to finish")
    if stages:
        listed = "; ".join(f"pid {p.pid}: {' '.join(p.cmdline)[:120]}" for p in stages)
        raise LmreproError(
            f"{root}: the lock is left by a killed run, but stage processes still write outputs here "
            f"({listed}); wait for them to end or stop them (kill PID), then rerun"
        )
    for lock in locks:
        lock.unlink(missing_ok=True)
    return (
        f"lmrepro: removed a stale Snakemake lock ({len(locks)} file(s) in .snakemake/locks, "
        "no snakemake process runs here: a previous run was killed); going on"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmrepro.unlock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", type=Path, default=None, help="the workflow directory (default: the repository root)")
    args = parser.parse_args(argv)
    root = (args.directory or repo_root()).resolve()
    try:
        message = unlock(root)
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if message:
        print(message)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
