import pandas as pd
import pytest

from lmrepro.edge import tech
from lmrepro.edge.schemas import FailedTech, TechTable
from lmrepro.errors import LmreproError


@pytest.mark.parametrize(
    "technology, read_pj, leak_mw, area_mm2",
    [  # papers.md section 4 (ReadEDP target; eNVMs: NVMExplorer's best-case cell)
        ("SRAM", 1.13, 56.3, 1.31),
        ("RRAM", 6.18, 12.0, 0.53),
        ("STT", 4.37, 22.0, 0.22),
    ],
)
def test_reproduces_papers_per_access_numbers(tech_table, technology, read_pj, leak_mw, area_mm2):
    row = tech.select(tech_table, technology, "ReadEDP", "best")
    assert row.read_energy_pj == pytest.approx(read_pj, abs=0.005)
    assert row.leakage_mw == pytest.approx(leak_mw, abs=0.05)
    assert row.area_mm2 == pytest.approx(area_mm2, abs=0.005)
    assert row.word_bits == 64 and row.capacity_bytes == 2 * 2**20 and row.node_nm == 22


def test_table_is_valid_and_one_row_per_design(tech_tables):
    table, failed = tech_tables
    TechTable.validate(table)
    FailedTech.validate(failed)
    # 6 optimization targets x 2 cell cases, minus what NVSim could not build
    assert table.groupby("technology").size().to_dict() == {"PCM": 12, "RRAM": 6, "SRAM": 12, "STT": 12}
    assert set(failed.technology) == {"FeFET", "RRAM"}
    assert set(failed[failed.technology == "RRAM"].cell_case) == {"worst"}


def test_failed_characterization_is_a_clear_error(tech_table):
    with pytest.raises(LmreproError, match="FeFET / best / ReadEDP"):
        tech.select(tech_table, "FeFET", "ReadEDP", "best")


def test_scaled_array_reproduces_the_array_it_read(tech_table):
    row = tech.select(tech_table, "RRAM", "ReadEDP", "best")
    one = tech.scale_array(row, row.capacity_bytes, "linear")
    assert (one.read_energy_pj, one.leakage_mw, one.area_mm2) == (row.read_energy_pj, row.leakage_mw, row.area_mm2)
    assert one.n_arrays == 1.0


def test_scaling_rules(tech_table):
    row = tech.select(tech_table, "SRAM", "ReadEDP", "best")
    lin = tech.scale_array(row, 3 * 2**20, "linear")  # 1.5 arrays
    tile = tech.scale_array(row, 3 * 2**20, "tile")  # 2 whole arrays
    assert lin.n_arrays == 1.5 and tile.n_arrays == 2.0
    assert lin.leakage_mw == pytest.approx(1.5 * row.leakage_mw)
    assert tile.area_mm2 == pytest.approx(2 * row.area_mm2)
    assert lin.read_energy_pj == tile.read_energy_pj == row.read_energy_pj  # per access unchanged
    with pytest.raises(LmreproError, match="scaling"):
        tech.scale_array(row, 10, "cubic")


def _copy(nvm_dir, tmp_path, name="SRAM_1BPC-combined.csv"):
    df = pd.read_csv(nvm_dir / name, skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    return df, tmp_path / name


def test_total_columns_must_carry_exactly_the_known_unit_error(nvm_dir, tmp_path):
    df, path = _copy(nvm_dir, tmp_path)
    df["Total Dynamic Read Energy (mJ)"] /= 1000.0  # "fixed" totals: not the dump we validated
    df.to_csv(path, index=False)
    with pytest.raises(LmreproError, match="1000x unit error"):
        tech.parse_csv(path, "SRAM")


def test_missing_column_is_named(nvm_dir, tmp_path):
    df, path = _copy(nvm_dir, tmp_path)
    df.drop(columns=["Leakage Power (mW)"]).to_csv(path, index=False)
    with pytest.raises(LmreproError, match="Leakage Power"):
        tech.parse_csv(path, "SRAM")


def test_benchmark_dependent_per_access_values_are_rejected(nvm_dir, tmp_path):
    df, path = _copy(nvm_dir, tmp_path)
    df.loc[0, "Area (mm^2)"] = 9.0
    df.to_csv(path, index=False)
    with pytest.raises(LmreproError, match="differ across benchmarks"):
        tech.parse_csv(path, "SRAM")


def test_cell_file_parses(nvm_dir):
    cell = tech.parse_cell_file(nvm_dir / "RRAM.cell")
    assert cell["MemCellType"] == "memristor" and cell["CellArea (F^2)"] == 53.0


def test_damaged_csv_is_rejected_with_file_and_line(nvm_dir, tmp_path):
    """Truncation, a re-delimited line and a non-finite value: file and line named, no traceback."""
    text = (nvm_dir / "SRAM_1BPC-combined.csv").read_text(encoding="utf-8")
    path = tmp_path / "SRAM_1BPC-combined.csv"
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # cut inside a line
    n = text[: len(text) // 2].count("\n") + 1
    with pytest.raises(LmreproError, match=rf"{path}:{n}: last line has no line end"):
        tech.parse_csv(path, "SRAM")
    lines = text.split("\n")
    path.write_text("\n".join([*lines[:3], lines[3].replace(",", ";"), *lines[4:]]), encoding="utf-8")
    with pytest.raises(LmreproError, match=rf"{path}:4: expected \d+ comma-separated fields like the header, got 1"):
        tech.parse_csv(path, "SRAM")
    df, path = _copy(nvm_dir, tmp_path)
    df.loc[4, "Leakage Power (mW)"] = float("inf")
    df.to_csv(path, index=False)
    with pytest.raises(LmreproError, match=rf"{path}: column 'leakage_mw' is not a finite number on line\(s\) \[6\]"):
        tech.parse_csv(path, "SRAM")


def test_bom_and_crlf_csv_parse_like_the_original(nvm_dir, tmp_path):
    raw = (nvm_dir / "SRAM_1BPC-combined.csv").read_bytes()
    path = tmp_path / "SRAM_1BPC-combined.csv"
    path.write_bytes(raw)
    expected = tech.parse_csv(path, "SRAM")
    path.write_bytes(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"))
    got = tech.parse_csv(path, "SRAM")
    pd.testing.assert_frame_equal(got[0], expected[0])
    pd.testing.assert_frame_equal(got[1], expected[1])


def test_cell_file_with_binary_bytes_is_named(tmp_path):
    cell = tmp_path / "RRAM.cell"
    cell.write_bytes(b"-MemCellType: memristor\n-CellArea (F^2): 5\x003\n")
    with pytest.raises(LmreproError, match=rf"{cell}:2: NUL byte"):
        tech.parse_cell_file(cell)
