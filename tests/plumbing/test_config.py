import dataclasses

import pytest

from lmrepro import config
from lmrepro.errors import LmreproError
from tests.conftest import REPO
from tests.faults import first_line


def test_committed_params_and_profiles_are_valid():
    base = config.load_params(REPO / "params.yaml")
    config.validate_params(base, REPO)
    for profile in ("smoke", "paper"):
        merged = config.load_params(REPO / "params.yaml", config.profile_file(profile, REPO))
        config.validate_params(merged, REPO, source=profile)


def test_unknown_key_is_named():
    params = config.load_params(REPO / "params.yaml")
    params["data"]["nlu"]["sede"] = 1
    with pytest.raises(LmreproError, match=r"unknown key\(s\): data\.nlu\.sede"):
        config.validate_params(params, REPO)


def test_unknown_section_is_named():
    params = config.load_params(REPO / "params.yaml")
    params["rekommend"] = {}
    with pytest.raises(LmreproError, match="rekommend"):
        config.validate_params(params, REPO)


def test_bad_value_names_the_key():
    params = config.load_params(REPO / "params.yaml")
    params["runtime"]["threads"] = 0
    with pytest.raises(LmreproError, match=r"runtime\.threads"):
        config.validate_params(params, REPO)
    params = config.load_params(REPO / "params.yaml")
    params["data"]["rec"]["datasets"] = ["beauty", "movies"]
    with pytest.raises(LmreproError, match=r"data\.rec\.datasets: .movies. has no data\.rec\.sources entry"):
        config.validate_params(params, REPO)


def test_missing_key_is_named():
    params = config.load_params(REPO / "params.yaml")
    del params["data"]["corpus"]["seed"]
    with pytest.raises(LmreproError, match=r"data\.corpus.*'seed' is a required property"):
        config.validate_params(params, REPO)


def test_deep_merge_overlays_leaves_only():
    merged = config.deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1}


@dataclasses.dataclass
class Inner:
    k: int


@dataclasses.dataclass
class Outer:
    inner: Inner
    names: tuple[str, ...]
    rate: float = 0.5


def test_from_dict_builds_nested_dataclasses_and_names_bad_keys():
    built = config.from_dict(Outer, {"inner": {"k": 2}, "names": ["a", "b"]}, where="x")
    assert built == Outer(Inner(2), ("a", "b"), 0.5)
    with pytest.raises(LmreproError, match=r"x\.inner\.kk"):
        config.from_dict(Outer, {"inner": {"kk": 2}, "names": []}, where="x")
    with pytest.raises(LmreproError, match=r"missing key x\.names"):
        config.from_dict(Outer, {"inner": {"k": 2}}, where="x")


def test_cli_validate_exit_codes(tmp_path, capsys, record_fault):
    assert config.main(["validate", "--params", str(REPO / "params.yaml")]) == 0
    bad = tmp_path / "params.yaml"
    bad.write_text("runtime: {seed: -1, threads: 1}\n")
    code = config.main(["validate", "--params", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert "runtime.seed" in err
    record_fault("invalid parameter value", "params.yaml with runtime.seed: -1; `python -m lmrepro.config validate`",
                 f"exit {code}: {first_line(err, 'runtime.seed')}", "no (rejected before any stage ran)")


def test_device_resolution_and_cpu_autocast_is_a_no_op():
    import torch

    from lmrepro.runtime import autocast, resolve_device

    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(LmreproError, match="runtime.device"):
            resolve_device("cuda")
    x = torch.randn(4, 4)
    with autocast(torch.device("cpu"), True):
        assert (x @ x).dtype == torch.float32  # CPU numbers never change with amp


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", ".NaN", "+.Inf"])
def test_non_finite_numbers_are_rejected_with_the_key(tmp_path, text):
    """YAML .inf/.nan pass JSON-schema 'number' and every minimum; they must not reach training."""
    params = config.load_params(REPO / "params.yaml")
    params["mta"]["stage1"]["lr"] = config.load_yaml(_yaml(tmp_path, f"v: {text}"))["v"]
    with pytest.raises(LmreproError, match=r"mta\.stage1\.lr: .* is not a finite number"):
        config.validate_params(params, REPO)


def test_non_finite_number_in_an_overlay_and_in_a_list_is_named(tmp_path, record_fault):
    overlay = _yaml(tmp_path, "mta:\n  stage1:\n    epochs: .inf\n")
    params = config.load_params(REPO / "params.yaml", overlay)
    params["edge"]["energy"]["sweep"]["rate_hz"] = [1.0, float("nan")]
    with pytest.raises(LmreproError) as err:
        config.validate_params(params, REPO)
    assert "mta.stage1.epochs: inf is not a finite number" in str(err.value)
    assert "edge.energy.sweep.rate_hz.1: nan is not a finite number" in str(err.value)
    record_fault("non-finite parameter (inf/nan)",
                 "a profile overlay with mta.stage1.epochs: .inf, and nan in the list edge.energy.sweep.rate_hz",
                 f"LmreproError naming both keys: {first_line(str(err.value), 'mta.stage1.epochs')}",
                 "no (rejected before any stage ran)")


def test_stage_cfg_sections_reject_non_finite_numbers():
    from lmrepro.stage import validate_sections

    with pytest.raises(LmreproError, match=r"data\.nlu\.valid_fraction: nan is not a finite number"):
        validate_sections({"data.nlu": {"tasks": ["sst2"], "seed": 1, "valid_fraction": float("nan"), "test_fraction": 0.1}},
                          REPO, source="--cfg")


def _yaml(tmp_path, text):
    path = tmp_path / "overlay.yaml"
    path.write_text(text)
    return path
