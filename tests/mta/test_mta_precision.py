"""mta.precision: auto trains in bf16 only where the CPU has bf16 instructions, because
emulated bf16 is many times slower than fp32 (an AVX2-only CPU turned the ALTER part from
minutes into hours); the path used is recorded and reported."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.mta import pipeline, precision, report
from lmrepro.mta.data import Encoded
from lmrepro.mta.train import Inputs


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_follows_the_cpu(native, expected):
    assert precision.resolve("auto", native=native) == expected


def test_forced_paths_are_kept_and_emulated_bf16_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="lmrepro.mta.precision"):
        assert precision.resolve("fp32", native=True) == "fp32"
        assert not caplog.records
        assert precision.resolve("bf16", native=True) == "bf16"
        assert not caplog.records
        assert precision.resolve("bf16", native=False) == "bf16"
    assert len(caplog.records) == 1 and "without bf16 instructions" in caplog.text


def test_unknown_precision_names_the_key():
    with pytest.raises(LmreproError, match=r"mta.precision .*'fp16'"):
        precision.resolve("fp16", native=True)


@pytest.mark.parametrize("avx512_bf16, amx, expected", [(True, False, True), (False, True, True),
                                                         (False, False, False)])
def test_native_bf16_reads_the_cpu_flags(monkeypatch, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert precision.native_bf16() is expected


class FakeCtx:
    def __init__(self, value: str) -> None:
        self.value, self.tags = value, {}

    def section(self, dotted: str):
        assert dotted == "mta.precision"
        return self.value

    def set_tags(self, tags) -> None:
        self.tags.update(tags)


@pytest.mark.parametrize("native", [True, False])
def test_stage_switch_resolves_and_tags_the_run(monkeypatch, native):
    monkeypatch.setattr(precision, "native_bf16", lambda: native)
    ctx = FakeCtx("auto")
    assert pipeline.cpu_bf16(ctx) is native
    assert ctx.tags["mta.precision"] == ("bf16" if native else "fp32")
    assert ctx.tags["cpu.native_bf16"] is native


def test_run_records_name_the_path_the_inputs_run_in():
    encoded = Encoded(ids=np.zeros(3, dtype=np.int64), types=np.zeros(3, dtype=np.int64),
                      offsets=np.array([0, 3], dtype=np.int64))
    assert pipeline.precision_of(Inputs(encoded)) == "fp32"
    assert pipeline.precision_of(Inputs(encoded, cpu_bf16=True)) == "bf16"
    assert pipeline.precision_of(Inputs(encoded, device="cuda", amp=True)) == "bf16"
    assert pipeline.precision_of(Inputs(encoded, device="cuda", cpu_bf16=True)) == "fp32"


def test_report_states_the_path_and_a_mix():
    assert report.precision_used({"mta": "bf16", "multi_ft": "bf16"}) == "bf16"
    mixed = report.precision_used({"mta": "bf16", "multi_ft": "fp32"})
    assert mixed == "mixed (mta: bf16, multi_ft: fp32)"
    assert "no bf16 instructions" in report._precision({"precision": "fp32", "precision_requested": "auto"})
    assert "bf16 autocast" in report._precision({"precision": "bf16", "precision_requested": "auto"})
    assert report._precision({"precision": "fp32", "precision_requested": "fp32"}) == "fp32 throughout"
    assert "different float paths" in report._precision({"precision": mixed, "precision_requested": "auto"})
    assert "float path unrecorded" in report._precision({"precision": "unrecorded", "precision_requested": "auto"})
