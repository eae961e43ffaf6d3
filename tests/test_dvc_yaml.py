"""dvc.yaml is generated from the Snakefile; the committed one must be current."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from lmrepro import dvcgen, dvcviews
from lmrepro.errors import LmreproError
from tests.conftest import REPO


def test_committed_dvc_yaml_is_current():
    diff = dvcgen.check(REPO)
    assert not diff, "dvc.yaml is stale; run `make dvc.yaml`:\n" + "\n".join(diff[:60])


def test_every_stage_tracks_its_code_params_and_reads_params_yaml():
    stages = dvcgen.load_stages(REPO)
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


def test_repeated_rules_are_templates_and_dvc_expands_them_to_our_names():
    """matrix/foreach keep dvc.yaml short; DVC's own expansion gives exactly the stages
    (names, commands, deps, params, outs) that load_stages computes, one per Snakemake job."""
    raw = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert {"matrix"} & set(raw["rec_index"]) and "foreach" in raw["rec_train"]  # rec_train's jobs are no full product
    mine = dvcgen.load_stages(REPO)
    all_jobs = dvcgen._jobs(REPO)
    assert set(raw) == {j["rule"] for j in all_jobs} and len(raw) < len(mine)  # one entry per rule
    jobs = {dvcgen._stage_name(j) for j in all_jobs}
    assert set(mine) == jobs
    assert "rec_train@beauty-sequential-lightlm-sequential" in mine  # one value in two wildcards
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    script = (
        "import json\nfrom dvc.repo import Repo\n"
        "with Repo('.') as r:\n"
        "    print(json.dumps({s.name: {'cmd': s.cmd, 'outs': sorted(str(o.def_path) for o in s.outs),"
        " 'deps': sorted(str(d.def_path) for d in s.deps if not hasattr(d, 'params')),"
        " 'params': sorted(p for d in s.deps if hasattr(d, 'params') for p in d.params)} for s in r.index.stages}))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(theirs) == set(mine)
    for name, stage in mine.items():
        outs = sorted(next(iter(o)) if isinstance(o, dict) else o for o in [*stage.get("outs", []), *stage.get("metrics", [])])
        assert theirs[name] == {"cmd": stage["cmd"], "outs": outs, "deps": sorted(stage["deps"]),
                                "params": sorted(stage["params"])}, name


def test_metrics_are_the_small_headline_files_only_and_plots_have_x_and_y():
    stages = dvcgen.load_stages(REPO)
    metrics = [m for st in stages.values() for m in st.get("metrics", [])]
    assert sorted(next(iter(m)) for m in metrics) == sorted(dvcviews.headline_paths())
    assert all(next(iter(m.values())) == {"cache": False} for m in metrics)
    outs = [next(iter(o)) if isinstance(o, dict) else o for st in stages.values() for o in st.get("outs", [])]
    assert "reports/metrics.json" in outs and "reports/claims.json" in outs
    assert any(o.startswith("reports/metrics/") for o in outs)  # still DVC-cached, no longer metrics
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    tables = {next(iter(p)): next(iter(p.values())) for p in plots if isinstance(p, dict)}
    assert sorted(tables) == sorted(dvcviews.plot_paths())
    for path, spec in tables.items():
        columns = dvcviews.PLOT_BY_NAME[path.split("/")[-1].removesuffix(".csv")].columns
        ys = spec["y"] if isinstance(spec["y"], list) else [spec["y"]]
        assert spec["x"] in columns and set(ys) <= set(columns), path


def test_template_reproduces_each_job_or_refuses():
    def job(wc, cmd):
        return {"rule": "r", "order": 0, "wildcards": wc, "input": [f"in/{wc['a']}.txt"], "output": [f"out/{wc['a']}-{wc['b']}.txt"],
                "cfg": """--cfg '{"runtime":1}'""", "shellcmd": f"""{cmd} --cfg '{{"runtime":1}}'"""}
    jobs = [job({"a": "x", "b": "x"}, "run x x"), job({"a": "x", "b": "y"}, "run x y"), job({"a": "y", "b": "x"}, "run y x")]
    entry = dvcgen._templated("r", jobs)  # the first job is ambiguous (a == b); another one is the template
    assert "foreach" in entry and set(entry["foreach"]) == {"x-x", "x-y", "y-x"}
    assert dvcgen.expand_stages({"r": entry})["r@y-x"]["cmd"] == "run y x --keys runtime"
    full = [*jobs, job({"a": "y", "b": "y"}, "run y y")]
    assert dvcgen._templated("r", full)["matrix"] == {"a": ["x", "y"], "b": ["x", "y"]}
    fixed = [job({"a": "x", "b": "p"}, "run x p x"), job({"a": "y", "b": "p"}, "run y p x")]  # 'x' also a fixed word
    expanded = dvcgen.expand_stages({"r": dvcgen._templated("r", fixed)})  # job y-p's abstraction works
    assert expanded["r@x-p"]["cmd"] == "run x p x --keys runtime"
    swapped = [job({"a": "x", "b": "p"}, "run x y"), job({"a": "y", "b": "p"}, "run y x")]  # not a function of a
    with pytest.raises(LmreproError, match="rule r: no template"):
        dvcgen._templated("r", swapped)


def test_stage_names_are_rule_at_wildcard_values():
    assert dvcgen.stage_name("evaluate", {}) == "evaluate"
    assert dvcgen.stage_name("rec_train", {"dataset": "beauty", "method": "sci", "model": "lightlm", "setting": "direct"}) \
        == "rec_train@beauty-sci-lightlm-direct"


@pytest.mark.parametrize("key", ["edge.energy.e_mac_pj", "edge.energy.dram_pj_per_bit", "edge.energy.sweep",
                                 "edge.energy.sensitivity.clock_ghz.values"])
def test_an_energy_knob_reruns_only_the_energy_stage_and_evaluate(key):
    """The energy model is analytical: a changed assumption must not retrain or re-evaluate anything."""
    from tests.pipeline_helpers import affected_stages

    assert affected_stages(dvcgen.load_stages(REPO), key) == {"edge_energy", "evaluate"}
    # the same helper does find other readers: a robustness knob reruns the robustness stage
    assert "edge_robustness" in affected_stages(dvcgen.load_stages(REPO), "edge.robustness.seeds")
