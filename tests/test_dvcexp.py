"""`python -m lmrepro.dvcexp -S KEY=VALUE [STAGE]`: `dvc exp run` at smoke scale in one command."""

import json
import shutil
import sys

import pytest
import yaml

from lmrepro import config, dvcexp
from tests.conftest import REPO, SHARED_DATA


def _apply(tmp_path, overrides):
    from dvc.utils.hydra import apply_overrides

    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    apply_overrides(params, overrides)  # what `dvc exp run -S` does to params.yaml
    return config.load_params(params)


def test_overrides_turn_params_yaml_into_the_smoke_profile(tmp_path):
    mirror = tmp_path / "mirror"
    got = _apply(tmp_path, dvcexp.overlay_overrides(REPO, "smoke", mirror))
    want = config.load_params(REPO / "params.yaml", REPO / "workflow" / "profiles" / "smoke" / "params.yaml")
    want["data"].update(mirror=str(mirror.resolve()), manifest=str(mirror.resolve() / "MANIFEST.tsv"))
    assert got == want
    assert got["rec"]["index"]["gci"]["bpr"]["weight_decay"] == pytest.approx(1e-5)  # ruamel writes 1e-05


def test_user_values_win_and_new_keys_are_added(tmp_path, monkeypatch):
    overlay = tmp_path / "workflow" / "profiles" / "tiny" / "params.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("rec:\n  train:\n    epochs: 3\n    extra_knob: 'a b:c'\n")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    overrides = dvcexp.overlay_overrides(tmp_path, "tiny", tmp_path)
    assert "++rec.train.extra_knob='a b:c'" in overrides and "rec.train.epochs=3" in overrides
    got = _apply(tmp_path, [*overrides, "rec.train.epochs=5"])
    assert got["rec"]["train"]["epochs"] == 5 and got["rec"]["train"]["extra_knob"] == "a b:c"


def test_print_shows_one_dvc_command(capsys, monkeypatch):
    monkeypatch.setenv("LMREPRO_DATA_MIRROR", str(SHARED_DATA))
    monkeypatch.chdir(REPO)
    assert dvcexp.main(["--print", "-S", "data.corpus.seed=8", "build_corpus"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("dvc exp run --temp -S ") and out.endswith("-S data.corpus.seed=8 build_corpus")
    assert "profile='\"'\"'smoke'\"'\"'" in out


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_smoke_experiment_runs_in_a_temp_copy_and_shows_up(tmp_path):
    from tests.pipeline_helpers import clone_copy, sh

    root = clone_copy(tmp_path / "repo")
    params, lock = (root / "params.yaml").read_text(), (root / "dvc.lock").read_text()
    run = sh([sys.executable, "-m", "lmrepro.dvcexp", "-n", "seed8", "-S", "data.corpus.seed=8", "build_corpus"], root)
    assert "Running stage 'build_corpus'" in run.stdout, run.stdout[-3000:]
    assert (root / "params.yaml").read_text() == params and (root / "dvc.lock").read_text() == lock
    shown = json.loads(sh([sys.executable, "-m", "dvc", "exp", "show", "--json"], root).stdout)
    exps = [e for rev in shown for e in (rev.get("experiments") or [])]
    (exp,) = [e for e in exps if e.get("name") == "seed8"]
    (rev,) = exp["revs"]
    values = rev["data"]["params"]["params.yaml"]["data"]
    assert values["data"]["corpus"]["seed"] == 8 and values["profile"] == "smoke"
    assert values["rec"]["subset"]["max_users"] == yaml.safe_load(
        (REPO / "workflow" / "profiles" / "smoke" / "params.yaml").read_text())["rec"]["subset"]["max_users"]
