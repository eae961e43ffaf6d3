"""The GPU check script: every track's step runs through the real builders (here at smoke
sizes on the CPU, the same code path a GPU machine takes at paper sizes)."""

import json

import pytest
import torch

from lmrepro.tools import gpu_check


def test_smoke_profile_on_cpu(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--profile", "smoke", "--device", "cpu", "--steps", "1", "--json", str(out)]) == 0
    results = {r["track"]: r for r in json.loads(out.read_text())["results"]}
    assert set(results) == set(gpu_check.TRACKS)
    for track in ("rec", "mta", "prosg"):
        r = results[track]
        assert r["seconds_per_step"] > 0 and r["throughput"] > 0, track
        assert 0 < r["trainable"] <= r["params"], track
    # MTA stage 1 trains adapters and heads only: the backbone stays frozen
    assert results["mta"]["trainable"] < results["mta"]["params"] / 10
    assert "| prosg | RWKV-4" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    assert gpu_check.main(["--profile", "smoke", "--device", "cuda", "--steps", "1"]) == 2
    assert "runtime.device" in capsys.readouterr().err


def test_bad_steps(capsys):
    assert gpu_check.main(["--profile", "smoke", "--device", "cpu", "--steps", "0", "--tracks", "edge"]) == 2
    assert "--steps" in capsys.readouterr().err
