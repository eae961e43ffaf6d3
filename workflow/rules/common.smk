# Helpers shared by the .smk files of every track: config validation, params, code inputs.
import json
import os
import re
import shlex
import sys
import uuid
from pathlib import Path

ROOT = Path(workflow.basedir)
sys.path.insert(0, str(ROOT / "src"))

from lmrepro.codedeps import code_files  # noqa: E402
from lmrepro.config import (
    get_key,
    load_params,
    params_hash,
    validate_params,
)  # noqa: E402
from lmrepro.errors import LmreproError  # noqa: E402
from lmrepro.data.manifest import read_manifest  # noqa: E402
from lmrepro.io import sha256_file  # noqa: E402
from lmrepro.paths import (
    OUTPUT_ROOT_ENV,
    data_mirror,
    profile_dir,
    repo_file,
)  # noqa: E402

try:
    validate_params(config, ROOT, source="snakemake config (params.yaml + overlays)")
except LmreproError as err:
    raise WorkflowError(str(err))

# Shared by every job of this invocation (jobs inherit the environment, also through
# cluster submission), so MLflow can group the stage runs of one `snakemake` call.
os.environ.setdefault("LMREPRO_INVOCATION_ID", uuid.uuid4().hex)
os.environ.setdefault("LMREPRO_ORCHESTRATOR", "snakemake")
# The whole config of this invocation (params.yaml + overlays), stated atop the reports.
os.environ.setdefault("LMREPRO_PARAMS_HASH", params_hash(config))
for _var in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
    os.environ.setdefault(_var, "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


# Threads per job come from params (they change float results), never from --cores.
THREADS = config["runtime"]["threads"]

# Metrics JSON files (reports/metrics/...) that the evaluate rule collects, and other
# files its report sections read. Each track's rule file extends these lists.
EVALUATE_INPUTS = []
REPORT_INPUTS = []
# Per-unit outcome tables (users, examples, items, rows) the pre-registered claims read.
CLAIM_INPUTS = []


def code_of(module):
    """Code inputs of a rule: the package sources its stage module runs, sorted.

    Computed from the imports (lmrepro.codedeps: transitive, lazy imports and package
    __init__ files included), never listed by hand, so editing any module a stage loads
    reruns that stage and nothing that does not load it. ``module`` is relative to the
    package: code_of("stages.rec_train").
    """
    try:
        files = code_files(f"lmrepro.{module}", ROOT / "src")
    except LmreproError as err:
        raise WorkflowError(f"code_of({module!r}): {err}")
    return [repo_path(p.relative_to(ROOT)) for p in files]


def _cfg_arg(keys):
    values = {key: get_key(config, key) for key in keys}
    encoded = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return f"--cfg {shlex.quote(encoded)}"


def cfg(*keys):
    """The `--cfg` argument carrying exactly these params keys (plus runtime).

    Keys may name wildcards ("rec.index.{method}"); the rule then reruns only when the
    params of its own wildcard values change.
    """
    keys = list(dict.fromkeys([*keys, "runtime"]))
    if any("{" in key for key in keys):

        def per_job(wildcards):
            return _cfg_arg([key.format(**dict(wildcards.items())) for key in keys])

        return per_job
    return _cfg_arg(keys)


def uses_default_params():
    """True when the config is exactly params.yaml (no overlay, no --config)."""
    return load_params(ROOT / "params.yaml") == config


# Output root. The default profile (params.yaml alone) writes data/, models/, reports/,
# logs/ and mlflow.db at the repository root, where dvc.yaml and the committed results
# are. Any other config (a profile overlay, --config) works in runs/<profile>/, so no
# profile overwrites another's results: Snakemake's working directory moves there (every
# relative path of the rules, its .snakemake/ state included), the stages learn it from
# $LMREPRO_OUTPUT_ROOT (MLflow store, the evaluate stage's readers), and repository
# files (package sources, claim registries, schemas) are named by absolute path.
OUT_DIR = profile_dir(config["profile"], uses_default_params())
if OUT_DIR != Path("."):
    workflow.workdir(str(ROOT / OUT_DIR))
    os.environ[OUTPUT_ROOT_ENV] = os.getcwd()
else:
    os.environ.pop(OUTPUT_ROOT_ENV, None)


def repo_path(rel):
    """A file of the repository (relative to its root) as an input of rules: unchanged for the
    default profile (dvc.yaml names the same path), absolute when the rules work in
    runs/<profile>."""
    rel = Path(rel)
    return str(rel) if OUT_DIR == Path(".") else str(ROOT / rel)


# Datasets are data (params data.rec.sources), so the wildcard accepts exactly the
# entries this config defines.
DATASET_PATTERN = "|".join(map(re.escape, config["data"]["rec"]["sources"]))


def _manifest_entries():
    """The manifest and mirror the fetch stage will read (same resolution as
    lmrepro.stages.fetch: $LMREPRO_DATA_MIRROR, else data.mirror; relative to the repo).
    """
    manifest = repo_file(config["data"]["manifest"], ROOT)
    mirror = data_mirror(config["data"]["mirror"], ROOT)
    try:
        entries = read_manifest(manifest)
    except LmreproError as err:
        raise WorkflowError(f"data.manifest: {err}")
    return entries, mirror


MANIFEST_ENTRIES, MIRROR = _manifest_entries()


def manifest_lines(wildcards):
    """This group's manifest lines (path, bytes, sha256): a changed or added line reruns
    the group's fetch (Snakemake params trigger), and only that group's."""
    return ";".join(
        f"{e.path}:{e.bytes}:{e.sha256}"
        for e in sorted(MANIFEST_ENTRIES, key=lambda e: e.path)
        if e.group == wildcards.group
    )


def _group_mirror_paths(group):
    return sorted(
        (MIRROR / e.path).resolve()
        for e in MANIFEST_ENTRIES
        if e.group == group and (MIRROR / e.path).is_file()
    )


def mirror_files(wildcards):
    """This group's files present in the mirror (absolute), marked ancient: their mtimes
    say nothing (each session mounts the mirror afresh, and new mtimes on the same bytes
    reran the whole pipeline); their bytes count through mirror_digests. Absent files
    come from their origin. Outside the repository, so dvcgen leaves them out of dvc.yaml.
    """
    return [ancient(str(path)) for path in _group_mirror_paths(wildcards.group)]


def mirror_digests(wildcards):
    """The sha256 of this group's mirror files as they are now (a params trigger): a file
    replaced by other bytes reruns the fetch, whose check against the manifest then
    decides; the same bytes with a new mtime rerun nothing. The mirror is small (17 MB
    hash in well under a second)."""
    return ";".join(
        f"{path.name}:{sha256_file(path)}"
        for path in _group_mirror_paths(wildcards.group)
    )


def placement_arg(wildcards, input):
    """--placement for the ALTER stages when they train at the placement validation chose
    (mta.smk MTA_PLACED gives them that input), else nothing."""
    return f"--placement {input.placement}" if "placement" in input.keys() else ""
