"""dvc.yaml is generated from the Snakefile; the committed one must be current."""

import yaml

from lmrepro import dvcgen
from tests.conftest import REPO


def test_committed_dvc_yaml_is_current():
    diff = dvcgen.check(REPO)
    assert not diff, "dvc.yaml is stale; run `make dvc.yaml`:\n" + "\n".join(diff[:60])


def test_every_stage_tracks_its_code_params_and_reads_params_yaml():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages, "no stages generated"
    for name, stage in stages.items():
        assert "--cfg" not in stage["cmd"] and "--keys" in stage["cmd"], name
        assert "runtime" in stage["params"], name
        assert any(d == "src/lmrepro/stage.py" for d in stage["deps"]), name
        module = stage["cmd"].split()[2]
        assert f"src/{module.replace('.', '/')}.py" in stage["deps"], f"{name}: its stage module is not a dep"
