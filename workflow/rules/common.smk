# Helpers shared by the .smk files of every track: config validation, params, code inputs.
import json
import os
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
    return [str(p.relative_to(ROOT)) for p in files]


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
