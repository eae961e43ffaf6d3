"""`dvc exp run` at a profile's scale in one command (default: smoke).

Why: DVC reads params.yaml only, while the smoke and paper profiles are overlays that
Snakemake merges (``--configfile params.yaml workflow/profiles/smoke/params.yaml``). An
experiment at smoke scale therefore needs every overlay value set in params.yaml, the
raw-data paths made absolute, and params.yaml itself left alone (it is the default
profile, and the committed dvc.lock describes it). This command does exactly that:

    python -m lmrepro.dvcexp -S rec.train.epochs=2            # the whole DAG, smoke scale
    python -m lmrepro.dvcexp -S data.corpus.seed=8 build_corpus   # up to one stage

It runs ``dvc exp run --temp`` (a temporary copy of the repository: the work tree,
params.yaml and dvc.lock stay as they are) with one ``-S`` per leaf value of the overlay,
the mirror and manifest as absolute paths (the copy lives under .dvc/tmp, where the
relative defaults do not reach), then the user's ``-S`` values, which win. Compare with
`dvc exp show --only-changed` and `dvc metrics diff`/`dvc plots diff <exp>`; bring one
into the work tree with `dvc exp apply <exp>`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmrepro import config
from lmrepro.errors import LmreproError
from lmrepro.paths import data_mirror, repo_root


def _value(value: Any) -> str:
    """A value in Hydra's override grammar (what `dvc exp run -S` parses)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in value.items()) + "}"
    raise LmreproError(f"cannot pass {value!r} ({type(value).__name__}) to dvc exp run -S")


def _leaves(tree: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += _leaves(value, path + ".")
        else:
            out.append((path, value))
    return out


def _has(tree: Mapping, dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def overlay_overrides(root: Path, profile: str | None, mirror: Path) -> list[str]:
    """``-S`` values that turn params.yaml into params.yaml + the profile's overlay, with
    the raw-data mirror and manifest as absolute paths. Keys the base lacks are added (``++``)."""
    base = config.load_params(root / "params.yaml")
    overlay = config.load_yaml(config.profile_file(profile, root)) if profile else {}
    mirror = mirror.resolve()
    paths = {"data": {"mirror": str(mirror), "manifest": str(mirror / "MANIFEST.tsv")}}
    overrides = []
    for key, value in _leaves(config.deep_merge(overlay, paths)):
        overrides.append(f"{'' if _has(base, key) else '++'}{key}={_value(value)}")
    return overrides


def command(overlay: list[str], sets: list[str], targets: list[str], name: str | None) -> list[str]:
    """``overlay``: overlay_overrides(...); the user's ``sets`` come after it and win."""
    cmd = [sys.executable, "-m", "dvc", "exp", "run", "--temp"]
    if name:
        cmd += ["--name", name]
    for override in [*overlay, *sets]:
        cmd += ["-S", override]
    return cmd + targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmrepro.dvcexp", description=__doc__.split("\n\n")[0])
    parser.add_argument("-S", "--set-param", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a params.yaml value for this experiment (Hydra syntax, as `dvc exp run -S`)")
    parser.add_argument("--profile", default="smoke",
                        help="overlay under workflow/profiles/<profile>/params.yaml (default smoke; 'default' = none)")
    parser.add_argument("-n", "--name", help="experiment name (dvc exp run --name)")
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the dvc command, run nothing")
    parser.add_argument("targets", nargs="*", help="DVC stages to reproduce (default: all), e.g. build_corpus, rec_train@beauty-sci-lightlm-direct")
    args = parser.parse_args(argv)
    root = repo_root()
    profile = None if args.profile == "default" else args.profile
    mirror = data_mirror(config.load_params(root / "params.yaml")["data"]["mirror"], root)
    try:
        if not (mirror / "MANIFEST.tsv").is_file():
            raise LmreproError(f"raw-data mirror {mirror}: no MANIFEST.tsv (set LMREPRO_DATA_MIRROR)")
        overlay = overlay_overrides(root, profile, mirror)
        cmd = command(overlay, args.sets, args.targets, args.name)
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    full = "dvc " + " ".join(shlex.quote(c) for c in cmd[3:])
    if args.print_only:
        print(full)
        return 0
    print(f"+ dvc exp run --temp with {len(overlay)} -S values for profile {args.profile} (raw data: {mirror})"
          f"{''.join(' -S ' + shlex.quote(s) for s in args.sets)} {' '.join(args.targets)}"
          "  [the whole command: --print]", file=sys.stderr, flush=True)
    env = {**os.environ, "LMREPRO_DATA_MIRROR": str(mirror.resolve()), "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(cmd, cwd=root, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
