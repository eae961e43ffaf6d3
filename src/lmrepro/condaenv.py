"""workflow/envs/lmrepro.yaml: the one conda environment every Snakemake rule names.

Why it exists: the Snakemake workflow catalog expects each rule to declare its software
(``conda:``), so that ``snakemake --sdm conda`` can run the workflow on a machine without
our virtual environment. We keep one environment, not one per rule, because every rule
runs the same package: its content is Python 3.11 plus every line of requirements.lock
(the exact pins `make install` puts in .venv), so the two ways of running install the
same versions. The package itself is installed by the post-deploy script beside it
(``pip install --no-deps -e .`` from the workflow's root, where Snakemake runs it).

The file is generated here, never edited by hand, and ``check`` fails when it no longer
matches requirements.lock (tests/test_workflow_lint.py):

    python -m lmrepro.condaenv write
    python -m lmrepro.condaenv check
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmrepro import io
from lmrepro.errors import LmreproError
from lmrepro.paths import repo_root

ENV_FILE = Path("workflow/envs/lmrepro.yaml")
LOCK_FILE = Path("requirements.lock")
PYTHON = "3.11"

HEADER = """\
# GENERATED from requirements.lock by `python -m lmrepro.condaenv write`; do not edit.
# The software of every rule (`conda:` in workflow/rules/*.smk), used only with
# `snakemake --sdm conda`: Python {python} and the exact pins of requirements.lock (the
# versions `make install` puts in .venv); lmrepro.post-deploy.sh then installs this
# package. A plain `snakemake` run ignores this file and uses the active environment.
"""


def locked_requirements(lock: Path) -> list[str]:
    """The ``name==version`` lines of requirements.lock, in file order."""
    if not lock.is_file():
        raise LmreproError(f"{lock}: not found (the pinned requirements the conda env mirrors)")
    lines = []
    for lineno, raw in enumerate(lock.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "==" not in line:
            raise LmreproError(f"{lock}:{lineno}: {line!r} is not an exact pin (name==version)")
        lines.append(line)
    return lines


def render(root: Path | None = None) -> str:
    root = root or repo_root()
    pins = locked_requirements(root / LOCK_FILE)
    body = [
        "name: lmrepro",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        f"  - python={PYTHON}",
        "  - pip",
        "  - pip:",
        *(f"      - {pin}" for pin in pins),
    ]
    return HEADER.format(python=PYTHON) + "\n".join(body) + "\n"


def write(root: Path | None = None) -> Path:
    root = root or repo_root()
    path = root / ENV_FILE
    with io.atomic_path(path) as tmp:
        tmp.write_text(render(root))
    return path


def check(root: Path | None = None) -> str | None:
    """None when the committed env file matches requirements.lock, else what is wrong."""
    root = root or repo_root()
    path = root / ENV_FILE
    if not path.is_file():
        return f"{path}: missing; run `python -m lmrepro.condaenv write`"
    if path.read_text() != render(root):
        return f"{path}: stale against {LOCK_FILE}; run `python -m lmrepro.condaenv write`"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmrepro.condaenv", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["write", "check"])
    args = parser.parse_args(argv)
    if args.action == "write":
        print(write())
        return 0
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
