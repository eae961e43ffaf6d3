#!/usr/bin/env bash
# Snakemake runs this once after creating workflow/envs/lmrepro.yaml (`--sdm conda`),
# inside that env, from the workflow's root: the rules call `python -m lmrepro...`, so
# the package is installed the way `make install` does (editable, deps already pinned).
set -euo pipefail
python -m pip install --no-deps -e .
