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


def test_commit_keeps_output_mtimes_when_content_is_already_cached(tmp_path):
    """A rerun that reproduces an earlier output byte for byte must keep its new mtime:
    dvc's hardlink to the old cached copy would otherwise date it back, and Snakemake
    would rerun everything downstream."""
    import os
    import shutil
    import subprocess
    import sys

    shutil.copytree(REPO / ".dvc", tmp_path / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"make": {
        "cmd": "true", "deps": ["in.txt"], "outs": ["out/a.txt", "out/dir"]}}}))
    (tmp_path / "in.txt").write_text("x")
    out, folder = tmp_path / "out" / "a.txt", tmp_path / "out" / "dir"
    folder.mkdir(parents=True)
    for path in (out, folder / "b.txt"):
        path.write_text("same content")
        os.utime(path, ns=(10**18, 10**18))  # an earlier run
    assert dvcgen.commit(tmp_path, ["make"]) == ["make"]
    for path in (out, folder / "b.txt"):  # the rerun: same bytes, new file, now
        path.unlink()
        path.write_text("same content")
    fresh = {p: p.stat().st_mtime_ns for p in (out, folder / "b.txt")}
    dvcgen.commit(tmp_path, ["make"])
    assert {p: p.stat().st_mtime_ns for p in fresh} == fresh
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "make"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert "up to date" in status.stdout, status.stdout
