"""results.md's commit stamp: the pipeline's own rewritten outputs are not "uncommitted
changes"; a changed source or config file is, and is named."""

import subprocess
from pathlib import Path

from lmrepro.report.provenance import source_stamp, source_state


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "reports").mkdir(parents=True)
    (root / "src").mkdir()
    for rel in ("reports/results.md", "dvc.lock", "params.yaml", "src/mod.py", "src/other.py"):
        (root / rel).write_text("v1\n")
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return root


def test_rewritten_reports_and_lock_leave_the_stamp_clean(tmp_path):
    root = _repo(tmp_path)
    (root / "reports" / "results.md").write_text("v2\n")
    (root / "dvc.lock").write_text("v2\n")
    (root / "untracked.txt").write_text("x\n")  # untracked files are not part of the commit's code
    commit, changed = source_state(root)
    assert len(commit) == 40 and changed == []
    assert source_stamp(commit, changed) == f"git commit `{commit[:12]}`"


def test_changed_sources_are_named(tmp_path):
    root = _repo(tmp_path)
    (root / "params.yaml").write_text("v2\n")
    (root / "reports" / "results.md").write_text("v2\n")
    _git(root, "mv", "src/other.py", "src/renamed.py")
    commit, changed = source_state(root)
    assert changed == ["params.yaml", "src/other.py", "src/renamed.py"]
    stamp = source_stamp(commit, changed)
    assert "with uncommitted changes to `params.yaml`, `src/other.py`, `src/renamed.py`" in stamp
    assert source_stamp(commit, [f"f{i}" for i in range(5)]).endswith("and 2 more")


def test_outside_git_the_state_is_never_claimed_clean(tmp_path):
    commit, changed = source_state(tmp_path)
    assert commit == "unknown" and changed
