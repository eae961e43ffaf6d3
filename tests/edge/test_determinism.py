"""Two runs of every edge stage with the same commit, params and threads write byte-identical
outputs; wall seconds live only in the timing files (declared as separate outputs).

Runs the real stage CLIs (harness, MLflow in a temporary store) at smoke-profile size on a
tiny random-weight MTA bundle (the real tokenizer, a 2-layer 16-wide BERT), so the
robustness stage exercises bundle loading, every condition and every writer."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lmrepro import config as cfgmod

REPO = Path(__file__).resolve().parents[2]
TIMING = {"timing.json"}  # the only files allowed to differ


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, nvm_dir):
    from transformers import AutoModel, AutoTokenizer, BertConfig

    from lmrepro.mta.backbone import DEFAULT_BACKBONE, resolve_backbone
    from lmrepro.mta.export import save_bundle
    from lmrepro.mta.mixture import MixtureConfig
    from lmrepro.mta.model import MtaClassifier
    import torch

    d = tmp_path_factory.mktemp("edge_inputs")
    tok = AutoTokenizer.from_pretrained(resolve_backbone(DEFAULT_BACKBONE), local_files_only=True)
    torch.manual_seed(0)
    enc = AutoModel.from_config(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=2,
                                           num_attention_heads=2, intermediate_size=32, max_position_embeddings=64),
                                attn_implementation="eager").eval()
    mix = MixtureConfig(blocks=1, bottleneck=4, n_shared=1, temperature=0.1, gate_init_own=0.5, dropout=0.1)
    model = MtaClassifier(enc, {"sst2": 2, "msrp": 2}, mix, "mixture").eval()
    save_bundle(d / "bundle", model, tok, max_len=16)
    words = ["good", "bad", "film", "plot", "slow", "fine", "great", "dull"]
    rows = [dict(task=t, split=s, text_a=f"{words[i % 8]} {words[(3 * i) % 8]} {i}",
                 text_b=(f"{words[(5 * i) % 8]} {i}" if t == "msrp" else None), label=i % 2, label_name=str(i % 2))
            for t in ("sst2", "msrp") for s in ("train", "test") for i in range(20)]
    pd.DataFrame(rows).to_parquet(d / "tasks.parquet")
    (d / "raw" / "nvmexplorer").mkdir(parents=True)
    for f in nvm_dir.iterdir():
        (d / "raw" / "nvmexplorer" / f.name).symlink_to(f)
    params = cfgmod.load_params(REPO / "params.yaml", cfgmod.profile_file("smoke", REPO))
    return d, params


def _run(module: str, args: list, keys: list[str], params: dict, tmp: Path) -> None:
    cfg = json.dumps({k: cfgmod.get_key(params, k) for k in [*keys, "runtime"]})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "LMREPRO_ROOT": str(REPO),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", f"lmrepro.stages.{module}", *map(str, args), "--cfg", cfg],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]


def _edge_run(inputs, out: Path) -> None:
    d, params = inputs
    out.mkdir()
    _run("edge_tech", ["--raw", d / "raw", "--out", out / "tech.parquet", "--failed", out / "tech_failed.parquet",
                       "--metrics", out / "tech.json"], ["edge.tech"], params, out)
    _run("edge_workload", ["--model", "albert-base-v2", "--out", out / "wl-albert.parquet",
                           "--metrics", out / "wl-albert.json"], ["edge.workload"], params, out)
    _run("edge_workload", ["--model", "ours", "--bundle", d / "bundle", "--out", out / "wl-ours.parquet",
                           "--metrics", out / "wl-ours.json"], ["edge.workload"], params, out)
    _run("edge_energy", ["--tech", out / "tech.parquet", "--workloads", out / "wl-albert.parquet",
                         out / "wl-ours.parquet", "--out", out / "energy.parquet", "--metrics", out / "energy.json",
                         "--fig-tasks", out / "tasks.png", "--fig-rate", out / "rate.png",
                         "--claims", REPO / "workflow" / "claims" / "edge_energy.yaml", "--region", out / "region.json",
                         "--winner-map", out / "winner_map.png", "--winner-map-data", out / "winner_map.csv",
                         "--sensitivity", out / "sensitivity.json", "--tornado", out / "tornado.png",
                         "--tornado-data", out / "tornado.csv"],
         ["edge.energy", "edge.prune"], params, out)
    _run("edge_robustness", ["--bundle", d / "bundle", "--nlu", d / "tasks.parquet", "--out", out / "rob.parquet",
                             "--predictions", out / "pred.parquet", "--metrics", out / "rob.json",
                             "--figure", out / "ber.png", "--timing", out / "timing.json"],
         ["edge.robustness", "edge.prune"], params, out)
    (out / "mlflow.db").unlink()


@pytest.mark.slow
def test_two_runs_are_byte_identical_except_timing(inputs, tmp_path):
    _edge_run(inputs, tmp_path / "a")
    _edge_run(inputs, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"energy.parquet", "pred.parquet", "rob.json", "ber.png", "timing.json", "region.json", "winner_map.png",
            "winner_map.csv", "sensitivity.json", "tornado.png", "tornado.csv"} <= set(names)
    differ = [n for n in names if n not in TIMING
              and (tmp_path / "a" / n).read_bytes() != (tmp_path / "b" / n).read_bytes()]
    assert differ == []
    # no result file carries a measured time; the timing file does
    for n in names:
        if n.endswith(".json") and n not in TIMING:
            assert "second" not in (tmp_path / "a" / n).read_text(), n
    timing = json.loads((tmp_path / "a" / "timing.json").read_text())
    pred = pd.read_parquet(tmp_path / "a" / "pred.parquet")
    assert timing["rows"] == pred.groupby(["task", "row"]).ngroups
    assert timing["forward_seconds"] > 0 and timing["threads"] == inputs[1]["runtime"]["threads"]
