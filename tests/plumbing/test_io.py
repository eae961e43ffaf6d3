import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from lmrepro import io
from lmrepro.errors import LmreproError
from tests.faults import first_line, lost_summary


class Scores(pa.DataFrameModel):
    name: Series[str]
    score: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        coerce = True


def test_write_then_read_roundtrip(tmp_path):
    path = tmp_path / "t.parquet"
    io.write_table(pd.DataFrame({"name": ["a", "b"], "score": [0.1, 0.9]}), path, Scores)
    back = io.read_table(path, Scores)
    assert back["score"].tolist() == [0.1, 0.9]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temp files left


def test_schema_violation_names_file_column_and_row_and_writes_nothing(tmp_path):
    path = tmp_path / "t.parquet"
    with pytest.raises(LmreproError) as err:
        io.write_table(pd.DataFrame({"name": ["a", "b"], "score": [0.5, 3.0]}), path, Scores)
    msg = str(err.value)
    assert str(path) in msg and "'score'" in msg and "row 1" in msg
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_strict_schema_rejects_unknown_column(tmp_path):
    with pytest.raises(LmreproError, match="extra"):
        io.write_table(pd.DataFrame({"name": ["a"], "score": [0.5], "extra": [1]}), tmp_path / "t.parquet", Scores)


def test_truncated_parquet_is_a_clear_error(tmp_path, record_fault):
    path = tmp_path / "t.parquet"
    io.write_table(pd.DataFrame({"name": ["a"] * 100, "score": [0.5] * 100}), path, Scores)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LmreproError, match="corrupt or truncated") as err:
        io.read_table(path, Scores)
    record_fault("truncated intermediate table (parquet)", "a 100-row parquet output cut to half its bytes, then read",
                 f"LmreproError: {first_line(str(err.value))}", "no rows returned (the read raised)")


def test_read_validates_content(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"name": ["a"], "score": [7.0]}).to_parquet(path)
    with pytest.raises(LmreproError, match="score"):
        io.read_table(path, Scores)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(LmreproError, match="file not found"):
        io.read_table(tmp_path / "nope.parquet", Scores)


def test_failed_writer_keeps_previous_file(tmp_path, record_fault):
    path = tmp_path / "out.txt"
    io.write_text("good", path)
    with pytest.raises(RuntimeError) as err:
        with io.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == "good"
    assert list(tmp_path.iterdir()) == [path]
    record_fault("writer fails mid-write", "exception inside io.atomic_path after half the new content was written",
                 f"the writer's own error: {type(err.value).__name__}: {err.value}",
                 lost_summary(lost=[] if path.read_text() == "good" else [path],
                              partial=[p for p in tmp_path.iterdir() if p != path],
                              checked="previous out.txt content compared; folder listed"))


def test_journal_rolls_back_every_output_of_a_failed_stage(tmp_path, record_fault):
    kept, new = tmp_path / "kept.json", tmp_path / "new.json"
    io.write_json({"v": 1}, kept)
    with pytest.raises(RuntimeError) as err:
        with io.OutputJournal():
            io.write_json({"v": 2}, kept)
            io.write_json({"v": 2}, new)
            assert io.read_json(kept) == {"v": 2}  # visible to the stage while it runs
            raise RuntimeError("stage failed after writing")
    assert io.read_json(kept) == {"v": 1}
    assert not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]
    record_fault("stage fails after writing some outputs",
                 "exception inside io.OutputJournal after replacing one output and creating another",
                 f"the stage's own error: {type(err.value).__name__}: {err.value}",
                 lost_summary(lost=[] if io.read_json(kept) == {"v": 1} else [kept],
                              partial=[p for p in tmp_path.iterdir() if p != kept],
                              checked="replaced output rolled back to its previous content; new one removed"))


def test_journal_commit_removes_backups(tmp_path):
    path = tmp_path / "a.json"
    io.write_json({"v": 1}, path)
    with io.OutputJournal() as journal:
        io.write_json({"v": 2}, path)
    assert journal.written == [path]
    assert io.read_json(path) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_directory_replace(tmp_path):
    folder = tmp_path / "raw"
    for value in ("one", "two"):
        with io.atomic_path(folder) as tmp:
            tmp.mkdir()
            (tmp / "f.txt").write_text(value)
    assert (folder / "f.txt").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]


KILL_BETWEEN_RENAMES = """
import os, signal, sys
from pathlib import Path
from lmrepro import io

final = Path(sys.argv[1])
real_replace = os.replace
calls = []

def replace_then_die(src, dst):
    real_replace(src, dst)
    calls.append(dst)
    if len(calls) == 1:  # the old output is now the backup; the new one is not in place yet
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace_then_die
with io.OutputJournal():
    io.write_text("new", final)
"""


def test_sigkill_between_journal_renames_the_next_start_restores_the_previous_output(tmp_path, record_fault):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "data" / "x" / "out.txt"
    io.write_text("old", out)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, str(out)], env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    leftovers = sorted(p.name for p in out.parent.iterdir())  # the backup and the new file's temporary
    assert not out.exists() and [n.split("-")[0] for n in leftovers] == [".out.tmp", ".out.txt.bak"], leftovers
    # a live writer's scratch file (this process) and an unrelated dotfile are kept
    live = out.parent / f".y.txt.tmp-{io._scratch_tag()}.txt"
    live.write_text("being written")
    (out.parent / ".keep").write_text("")
    handled = io.clean_stale_files(tmp_path)
    assert sorted(p.name for p in handled) == leftovers
    assert out.read_text() == "old"  # the previous good output is back, not deleted
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([".keep", live.name, out.name])
    record_fault("writer SIGKILLed between the journal's two renames",
                 "os.replace patched to SIGKILL the writer after the old output became the .bak",
                 f"exit {proc.returncode} (killed); the next stage start rolled back {len(handled)} stale files "
                 f"({', '.join(n.split('-')[0] + '-*' for n in leftovers)}): the .bak became {out.name} again",
                 lost_summary(lost=[] if out.read_text() == "old" else [f"the previous {out.name}"],
                              partial=[p for p in out.parent.iterdir() if io.is_stale_scratch(p.name)],
                              checked="a live writer's scratch file and an unrelated dotfile kept"))


def test_a_dead_writers_backup_wins_over_the_new_version_of_an_unfinished_stage(tmp_path):
    """Killed after its new output moved in but before the stage committed: roll back."""
    out = tmp_path / "reports" / "t.json"
    out.parent.mkdir(parents=True)
    out.write_text("new, from a stage that never finished")
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    (out.parent / f".t.json.bak-{io._HOST}-{dead}-1a2b3c4d").write_text("last good")
    (out.parent / f".u.old-{io._HOST}-{dead}-1a2b3c4d").mkdir()  # a folder swap finished: drop the copy
    (out.parent / "u").mkdir()
    io.clean_stale_files(tmp_path)
    assert out.read_text() == "last good"
    assert sorted(p.name for p in out.parent.iterdir()) == ["t.json", "u"]


def test_leftovers_of_the_previous_naming_are_stale_and_other_hosts_are_left_alone():
    assert io.is_stale_scratch(".tasks.parquet.bak-1a2b3c4d")  # before host/pid were recorded
    assert io.is_stale_scratch(".tasks.tmp-4242-1a2b3c4d.parquet")
    other = "ffffff" if io._HOST != "ffffff" else "000000"
    assert not io.is_stale_scratch(f".tasks.parquet.bak-{other}-1-1a2b3c4d")
    assert not io.is_stale_scratch("tasks.parquet.bak-1a2b3c4d")  # not one of ours
    assert not io.is_stale_scratch(".bashrc")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_honour_the_umask_even_for_0600_writers(tmp_path, umask):
    import os
    import stat

    import torch
    from safetensors.torch import save_file

    old = os.umask(umask)
    try:
        with io.atomic_path(tmp_path / "model") as tmp:
            tmp.mkdir()
            save_file({"w": torch.zeros(2)}, str(tmp / "model.safetensors"))  # safetensors makes 0600 files
            (tmp / "sub").mkdir(mode=0o700)
        with io.atomic_path(tmp_path / "w.safetensors") as tmp:
            save_file({"w": torch.zeros(2)}, str(tmp))
        io.write_json({"a": 1}, tmp_path / "m.json")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "model") == mode(tmp_path / "model" / "sub") == 0o777 & ~umask
    for f in ("model/model.safetensors", "w.safetensors", "m.json"):
        assert mode(tmp_path / f) == 0o666 & ~umask, f
