"""What each stage of a pipeline run really loaded, against what its rule declares.

The smoke DAG runs with tests/import_trace first on PYTHONPATH (its sitecustomize writes,
per stage process, the lmrepro files it loaded); these helpers read those records and the
declared code inputs of the Snakefile DAG and of dvc.yaml, keyed by the job's --log path
(unique per job, and the same in both).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path


TRACER = Path(__file__).resolve().parent / "import_trace"


def trace_env(root: Path, folder: Path) -> dict[str, str]:
    """Environment that makes every stage under ``root`` record its imports in ``folder``."""
    return {"PYTHONPATH": f"{TRACER}{os.pathsep}{root / 'src'}", "LMREPRO_IMPORT_LOG": str(folder)}


def log_of(cmd: str | list[str]) -> str:
    words = shlex.split(cmd) if isinstance(cmd, str) else cmd
    if "--log" not in words:
        raise AssertionError(f"no --log in {words}")
    return words[words.index("--log") + 1]


def loaded_files(folder: Path) -> dict[str, set[str]]:
    """{job log path: lmrepro files its stage process loaded}."""
    records: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        log = log_of(record["argv"])
        assert log not in records, f"two traced processes wrote {log}"
        records[log] = set(record["files"])
    return records


def declared_in_dvc_yaml(root: Path) -> dict[str, set[str]]:
    from lmrepro import dvcgen

    stages = dvcgen.load_stages(root)
    return {log_of(st["cmd"]): set(st["deps"]) for st in stages.values()}


def declared_in_snakefile(root: Path) -> dict[str, set[str]]:
    """Inputs of every job of the DAG that Snakemake builds in ``root`` (its own sources)."""
    script = "import json; from pathlib import Path; from lmrepro import dvcgen; print(json.dumps(dvcgen._jobs(Path.cwd())))"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    jobs = json.loads(result.stdout.strip().splitlines()[-1])
    return {log_of(" ".join(job["shellcmd"].split())): set(job["input"]) for job in jobs}


def undeclared(loaded: dict[str, set[str]], declared: dict[str, set[str]]) -> dict[str, list[str]]:
    """{job log: files its stage loaded that the job does not declare} (empty when all are)."""
    return {log: sorted(files - declared.get(log, set())) for log, files in loaded.items() if files - declared.get(log, set())}
