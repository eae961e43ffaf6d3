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


# Where a run's generated state goes (data/, models/, reports/, logs/, mlflow.db).
# The default profile (params.yaml alone) writes at the repository root, where the
# committed results and dvc.yaml expect it; every other config writes under
# runs/<profile>/, so a smoke or paper run can never overwrite another profile's results.
OUTPUT_ROOT_ENV = "LMREPRO_OUTPUT_ROOT"
RUNS_DIR = "runs"


def profile_dir(profile: str, is_default: bool) -> Path:
    """The output folder of a config, relative to the repository root.

    ``is_default``: the config is exactly params.yaml (no overlay, no --config); it keeps
    the root. Any other config goes to runs/<profile>, ``profile`` being its ``profile``
    key (an overlay that changes knobs without renaming itself lands in runs/default,
    still apart from the committed results).
    """
    if is_default:
        return Path(".")
    name = str(profile)
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"params key 'profile' must be a plain folder name, not {name!r}")
    return Path(RUNS_DIR) / name


def output_root(root: Path | None = None) -> Path:
    """The folder the running config's outputs and MLflow store live in.

    Snakemake exports $LMREPRO_OUTPUT_ROOT (workflow/rules/common.smk) when it works in
    runs/<profile>; otherwise (default profile, DVC, tests) it is ``root`` or the repo root.
    """
    env = os.environ.get(OUTPUT_ROOT_ENV)
    if env:
        return Path(env).resolve()
    return root or repo_root()


def repo_file(path: str | Path, root: Path | None = None) -> Path:
    """A path from params (a mirror, a manifest) resolved against the repository root, so
    it means the same whichever folder a stage runs in."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or repo_root()) / p
