"""Where the repository and its generated state live.

Stages run with the repository root as working directory under both Snakemake and DVC;
``LMREPRO_ROOT`` overrides it (tests run copies of the repo in temporary folders).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The folder holding params.yaml: $LMREPRO_ROOT, else the nearest parent of cwd."""
    env = os.environ.get("LMREPRO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "params.yaml").is_file():
            return candidate
    return here


def schema_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / "workflow" / "schemas" / "params"


def data_mirror(configured: str | Path | None = None, root: Path | None = None) -> Path:
    """The raw-data mirror: $LMREPRO_DATA_MIRROR, else ``configured`` (params
    ``data.mirror``; relative to the repository root), else ``../shared/data`` beside it.

    Why one function: the fetch stage, the benchmarks and the cost estimates all read raw
    files from the mirror; each with its own lookup, one of them reads another folder
    than the stages did whenever the variable or the params differ.
    """
    env = os.environ.get("LMREPRO_DATA_MIRROR")
    if env:
        return Path(env)
    root = root or repo_root()
    if configured:
        return root / configured  # an absolute ``configured`` stays as it is
    return root.parent / "shared" / "data"
