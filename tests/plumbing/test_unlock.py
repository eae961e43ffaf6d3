"""Stale Snakemake locks are removed only when nothing works in the directory any more."""

import subprocess
import sys

import pytest

from lmrepro import unlock
from lmrepro.errors import LmreproError
from lmrepro.unlock import Proc


@pytest.fixture
def locked(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("src/lmrepro/io.py\n")
    (locks / "0.output.lock").write_text("data/raw/nlu\n")
    return tmp_path


def snakemake_in(cwd, *args):
    return Proc(4242, ("/x/.venv/bin/python", "/x/.venv/bin/snakemake", "--cores", "2", *args), str(cwd))


def test_no_lock_nothing_to_say(tmp_path):
    assert unlock.unlock(tmp_path, procs=[]) is None


def test_stale_lock_is_removed_with_one_line(locked):
    message = unlock.unlock(locked, procs=[snakemake_in(locked.parent)])  # a run elsewhere does not count
    assert message.count("\n") == 0 and "stale Snakemake lock" in message
    assert unlock.lock_files(locked) == []


@pytest.mark.parametrize("proc", [
    lambda root: snakemake_in(root),
    lambda root: snakemake_in("/", "--directory", str(root)),
    lambda root: Proc(7, ("python3", "-m", "snakemake", "-n"), str(root)),
])
def test_live_snakemake_here_keeps_the_lock(locked, proc):
    with pytest.raises(LmreproError, match="Snakemake is running here"):
        unlock.unlock(locked, procs=[proc(locked)])
    assert len(unlock.lock_files(locked)) == 2


def test_orphaned_stage_of_the_killed_run_keeps_the_lock_and_is_named(locked):
    """A real process, found through psutil: the killed run's job still writing here."""
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "lmrepro.stages.fetch"], cwd=locked)
    try:
        with pytest.raises(LmreproError, match=rf"pid {orphan.pid}: .*lmrepro\.stages\.fetch"):
            unlock.unlock(locked)
        assert len(unlock.lock_files(locked)) == 2
    finally:
        orphan.kill()
        orphan.wait()
    assert "stale" in unlock.unlock(locked)


def test_cli_exit_codes(locked, capsys):
    assert unlock.main(["--directory", str(locked)]) == 0
    assert "stale Snakemake lock" in capsys.readouterr().out
    assert unlock.main(["--directory", str(locked)]) == 0 and capsys.readouterr().out == ""
