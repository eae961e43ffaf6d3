import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from lmrepro import io
from lmrepro.errors import LmreproError


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


def test_truncated_parquet_is_a_clear_error(tmp_path):
    path = tmp_path / "t.parquet"
    io.write_table(pd.DataFrame({"name": ["a"] * 100, "score": [0.5] * 100}), path, Scores)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LmreproError, match="corrupt or truncated"):
        io.read_table(path, Scores)


def test_read_validates_content(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"name": ["a"], "score": [7.0]}).to_parquet(path)
    with pytest.raises(LmreproError, match="score"):
        io.read_table(path, Scores)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(LmreproError, match="file not found"):
        io.read_table(tmp_path / "nope.parquet", Scores)


def test_failed_writer_keeps_previous_file(tmp_path):
    path = tmp_path / "out.txt"
    io.write_text("good", path)
    with pytest.raises(RuntimeError):
        with io.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == "good"
    assert list(tmp_path.iterdir()) == [path]


def test_journal_rolls_back_every_output_of_a_failed_stage(tmp_path):
    kept, new = tmp_path / "kept.json", tmp_path / "new.json"
    io.write_json({"v": 1}, kept)
    with pytest.raises(RuntimeError):
        with io.OutputJournal():
            io.write_json({"v": 2}, kept)
            io.write_json({"v": 2}, new)
            assert io.read_json(kept) == {"v": 2}  # visible to the stage while it runs
            raise RuntimeError("stage failed after writing")
    assert io.read_json(kept) == {"v": 1}
    assert not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]


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
