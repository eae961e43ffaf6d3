"""`dvc repro` after changing one indexing knob reruns only that indexing and what
consumes it: checked on the generated dvc.yaml (params and the deps/outs graph)."""

from __future__ import annotations

import yaml

from lmrepro.rec.grid import train_runs

from lmrepro import dvcgen
from tests.conftest import REPO


def _stages():
    return dvcgen.load_stages(REPO)


def _trained_on(stages: dict, method: str) -> set[str]:
    """rec_train@<dataset>-<method>-<model>-<setting> stages of one indexing method."""
    return {n for n in stages if n.startswith("rec_train@") and n.split("@")[1].split("-")[1] == method}


def _downstream(stages: dict, seeds: set[str]) -> set[str]:
    """Stages reached from `seeds` through outs -> deps (paths, folder outs included)."""
    def paths(entries):
        return [next(iter(e)) if isinstance(e, dict) else str(e) for e in entries]

    outs = {name: paths([*st.get("outs", []), *st.get("metrics", []), *st.get("plots", [])])
            for name, st in stages.items()}
    deps = {name: [str(d) for d in st.get("deps", [])] for name, st in stages.items()}
    done, todo = set(seeds), list(seeds)
    while todo:
        produced = outs[todo.pop()]
        for name in stages:
            if name not in done and any(d == o or d.startswith(o + "/") for d in deps[name] for o in produced):
                done.add(name)
                todo.append(name)
    return done


def test_each_indexing_knob_reaches_only_its_own_stages():
    stages = _stages()
    params = yaml.safe_load((REPO / "params.yaml").read_text())["rec"]
    methods = list(params["index"])
    assert set(params["indexings"]) | set(params["ablations"]) <= set(methods)
    for method in methods:
        key = f"rec.index.{method}"
        readers = {n for n, st in stages.items() if any(str(p) == key or str(p).startswith(key + ".")
                                                         for p in st.get("params", []))}
        built = {f"rec_index@{d}-{method}" for d in params["datasets"]}
        if method not in set(params["indexings"]) | set(params["ablations"]):
            assert not readers, f"{key} read by {readers} but not built"
            continue
        assert readers == built, f"{key} is read by {sorted(readers - built)} too"
        rerun = _downstream(stages, readers)
        allowed = _trained_on(stages, method) | built
        allowed |= {"rec_summary", "evaluate"}  # the track summary and the report read every run
        assert rerun <= allowed, f"changing {key} reruns {sorted(rerun - allowed)}"
        assert {"rec_summary", "evaluate"} <= rerun
        # and it does rerun every model trained on this indexing (ablations included)
        trained = _trained_on(stages, method)
        assert trained <= rerun
        # exactly the runs of the grid on this indexing (rec.grid blocks, or the full product)
        runs = [r for r in train_runs(params) if r.split("-")[1] == method]
        assert len(trained) == len(runs), (method, sorted(trained), runs)


def test_no_rec_stage_reads_the_whole_index_section():
    for name, st in _stages().items():
        assert not {"rec", "rec.index"} & {str(p) for p in st.get("params", [])}, name
