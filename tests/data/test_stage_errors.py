"""Data stages through their CLI on a copied mirror with one malformed file: exit status 2,
the file and line named on stderr, no traceback, and no output left behind."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.faults import first_line, lost_summary

REPO = Path(__file__).resolve().parents[2]
RUNTIME = {"seed": 0, "threads": 1, "device": "cpu", "amp": False}


def _run(module: str, args: list[str], cfg: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
           "LMREPRO_ROOT": str(REPO)}
    return subprocess.run([sys.executable, "-m", module, *args, "--cfg", json.dumps({**cfg, "runtime": RUNTIME})],
                          env=env, capture_output=True, text=True, timeout=300)


def test_build_nlu_with_a_re_delimited_cola_file_exits_2_naming_file_and_line(shared_data, tmp_path, record_fault):
    raw = tmp_path / "raw" / "nlu"
    for task in ("sst2", "cola"):
        shutil.copytree(shared_data / "nlu" / task, raw / task)
    bad = raw / "cola" / "in_domain_dev.tsv"
    lines = bad.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2].replace("\t", ",")  # one line saved with the wrong delimiter
    bad.write_text("\n".join(lines), encoding="utf-8")
    outs = [tmp_path / n for n in ("nlu.parquet", "counts.md", "m.json")]
    cfg = {"data.nlu": {"tasks": ["sst2", "cola"], "seed": 13, "valid_fraction": 0.1, "test_fraction": 0.1}}
    out = _run("lmrepro.stages.build_nlu", ["--raw", str(raw), "--out", str(outs[0]), "--counts", str(outs[1]),
                                            "--metrics", str(outs[2])], cfg, tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"{bad}:3: expected 4 tab-separated columns" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not any(p.exists() for p in outs)
    assert not list(tmp_path.glob(".*.tmp-*"))  # no temporary file of an atomic write either
    left = [p for p in outs if p.exists()] + list(tmp_path.glob(".*.tmp-*"))
    record_fault("malformed NLU raw file (wrong delimiter)",
                 "line 3 of CoLA's in_domain_dev.tsv saved with commas; `python -m lmrepro.stages.build_nlu`",
                 f"exit {out.returncode}: {first_line(out.stderr, str(bad))}",
                 lost_summary(partial=left, checked=f"{len(outs)} outputs and atomic-write temporaries checked"))


def test_build_rec_with_a_truncated_file_exits_2_naming_file_and_line(shared_data, tmp_path, record_fault):
    raw = tmp_path / "raw" / "rec"
    raw.mkdir(parents=True)
    data = (shared_data / "rec" / "Beauty.txt").read_bytes()
    (raw / "Beauty.txt").write_bytes(data[: len(data) // 2 + 1])  # cut inside a line
    n_lines = data[: len(data) // 2 + 1].count(b"\n") + 1
    outs = [tmp_path / "beauty.parquet", tmp_path / "m.json"]
    out = _run("lmrepro.stages.build_rec", ["--dataset", "beauty", "--raw", str(raw), "--out", str(outs[0]),
                                            "--metrics", str(outs[1])],
               {"data.rec.datasets": ["beauty"], "data.rec.sources.beauty": {"file": "Beauty.txt"}}, tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"{raw / 'Beauty.txt'}:{n_lines}: last line has no line end" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not any(p.exists() for p in outs)
    assert not list(tmp_path.glob(".*.tmp-*"))
    left = [p for p in outs if p.exists()] + list(tmp_path.glob(".*.tmp-*"))
    record_fault("malformed rec raw file (truncated mid-line)",
                 "Beauty.txt cut inside a line; `python -m lmrepro.stages.build_rec`",
                 f"exit {out.returncode}: {first_line(out.stderr, str(raw / 'Beauty.txt'))}",
                 lost_summary(partial=left, checked=f"{len(outs)} outputs and atomic-write temporaries checked"))
