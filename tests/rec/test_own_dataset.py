"""A user's own sequence file by params alone (issue 18 item 7): a temp mirror with the
file and its manifest line, a params overlay naming it, and the rec track runs on it at
smoke size (one indexing, one model, one setting, the MostPop peer) in runs/<profile>/.
No code names the dataset: no enum, no file-name dict, no peer row needed."""

from __future__ import annotations

import hashlib
import random

import pytest
import yaml

from lmrepro.config import load_params
from lmrepro.data import report as data_report
from lmrepro.data.catalog import rec_sources
from lmrepro.rec import report as rec_report
from tests.pipeline_helpers import copy_repo, sh

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


def _synthetic(n_users: int = 30, n_items: int = 40, seed: int = 0) -> str:
    """'<user> <item> <item> ...' lines, 5 to 9 items each (leave-one-out needs >= 3)."""
    rng = random.Random(seed)
    return "".join(f"{u} " + " ".join(str(i) for i in rng.sample(range(1, n_items + 1), rng.randint(5, 9))) + "\n"
                   for u in range(1, n_users + 1))


def test_own_dataset_runs_the_rec_track_by_params_alone(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "rec").mkdir(parents=True)
    data = _synthetic().encode()
    (mirror / "rec" / "mine.txt").write_bytes(data)
    (mirror / "MANIFEST.tsv").write_text(
        "path\tbytes\tsha256\torigin\tlicense\n"
        f"rec/mine.txt\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\tlocal:synthetic\tCC0 (test data)\n")
    root = copy_repo(tmp_path / "repo")
    sh("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm copy", root)
    overlay = {
        "profile": "mine",
        "data": {"mirror": str(mirror), "manifest": str(mirror / "MANIFEST.tsv"),
                 "rec": {"datasets": ["mine"], "sources": {"mine": {"file": "mine.txt"}}}},
        "rec": {"datasets": ["mine"], "indexings": ["random"], "models": ["lightlm"], "settings": ["sequential"],
                "peers": ["mostpop"], "ablations": []},
    }
    (root / "mine.yaml").write_text(yaml.safe_dump(overlay))
    configs = ["params.yaml", "workflow/profiles/smoke/params.yaml", "mine.yaml"]
    run = sh(["snakemake", "--cores", "2", "reports/rec/summary.json", "--configfile", *configs], root,
             env_extra={"LMREPRO_DATA_MIRROR": str(mirror)})
    assert "dvc.lock left as it was" in run.stdout + run.stderr
    out = root / "runs" / "mine"
    for rel in ("data/raw/rec/mine.txt", "data/rec/mine.parquet", "reports/metrics/data/rec-mine.json",
                "reports/metrics/rec/train-mine-random-lightlm-sequential.json", "reports/metrics/rec/peer-mine-mostpop.json",
                "reports/rec/summary.json"):
        assert (out / rel).is_file(), f"runs/mine/{rel} missing"
    assert not (root / "data").exists()

    sources = rec_sources(load_params(*(root / c for c in configs))["data"]["rec"]["sources"])
    section = rec_report.render(out, sources=sources)  # no peer row for it: ours only, no KeyError
    assert "| mine | random | lightlm | sequential |" in section and "TIGER paper" not in section
    assert "| mine | 30 |" in data_report.render(out, sources=sources)

    # editing its manifest line (or replacing the mirror file) reruns fetch
    again = sh(["snakemake", "-n", "--cores", "1", "reports/rec/summary.json", "--configfile", *configs], root,
               env_extra={"LMREPRO_DATA_MIRROR": str(mirror)})
    assert "Nothing to be done" in again.stdout + again.stderr, (again.stdout + again.stderr)[-2000:]
    extra = b"1 1 2 3\n"
    (mirror / "rec" / "mine2.txt").write_bytes(extra)
    with open(mirror / "MANIFEST.tsv", "a") as handle:  # a new line in the group: its fetch reruns
        handle.write(f"rec/mine2.txt\t{len(extra)}\t{hashlib.sha256(extra).hexdigest()}\tlocal:synthetic\tCC0\n")
    edited = sh(["snakemake", "-n", "--cores", "1", "data/raw/rec", "--configfile", *configs], root,
                env_extra={"LMREPRO_DATA_MIRROR": str(mirror)})
    assert "fetch" in edited.stdout and "Nothing to be done" not in edited.stdout, edited.stdout[-2000:]
    (mirror / "MANIFEST.tsv").write_text((mirror / "MANIFEST.tsv").read_text().splitlines(keepends=True)[0]
                                         + "".join((mirror / "MANIFEST.tsv").read_text().splitlines(keepends=True)[1:2]))
    (mirror / "rec" / "mine2.txt").unlink()
    # the same bytes with a new mtime (a mirror copied afresh, as each session mounts it):
    # nothing reruns; other bytes (a user replacing the file): the fetch reruns and its
    # sha256 check decides
    (mirror / "rec" / "mine.txt").unlink()
    (mirror / "rec" / "mine.txt").write_bytes(data)
    same = sh(["snakemake", "-n", "--cores", "1", "reports/rec/summary.json", "--configfile", *configs], root,
              env_extra={"LMREPRO_DATA_MIRROR": str(mirror)})
    assert "Nothing to be done" in same.stdout + same.stderr, (same.stdout + same.stderr)[-2000:]
    (mirror / "rec" / "mine.txt").write_bytes(data + b"31 1 2 3\n")
    replaced = sh(["snakemake", "-n", "--cores", "1", "data/raw/rec", "--configfile", *configs], root,
                  env_extra={"LMREPRO_DATA_MIRROR": str(mirror)})
    assert "fetch" in replaced.stdout and "params" in replaced.stdout.lower(), replaced.stdout[-2000:]
