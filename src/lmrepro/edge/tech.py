"""Memory technology table from NVMExplorer's NVSim characterizations, and array scaling.

NVMExplorer (Pentecost et al., HPCA 2022) ships, per technology, a CSV of 2 MB / 64-bit-word
arrays at 22 nm, one row per (cell case, optimization target, benchmark). The per-access
columns (read/write energy, latency, leakage, area) do not depend on the benchmark; the
benchmark columns are traffic totals that we recompute ourselves, because the *total*
energy/power columns of this dump carry a known 1000x unit error (NVMExplorer issue #3).
`parse_csv` checks that the error is exactly that (totals == 1000 x accesses x per-access
energy) so a file that disagrees in any other way is rejected instead of silently used.

Array scaling (`scale_array`): a memory that must hold `bytes_needed` is built from copies of
the characterized array. Per-access energy and latency stay those of one array (an access
hits one bank; H-tree growth is ignored), while area and leakage grow with the number of
arrays: either fractionally ("linear": a smaller or larger macro with the same density and
leakage per bit) or in whole characterized arrays ("tile": ceil(bytes / array capacity)).

Reading is strict (:mod:`lmrepro.data.rawtext`): UTF-8, no NUL bytes, a UTF-8 BOM dropped
and CRLF read as LF (spreadsheet tools add both; the values are unchanged). Every record
must have the header's number of comma-separated fields and the file must end with a
newline (all NVMExplorer dumps do), so a truncated or re-delimited file is reported with
its line instead of being read with missing values; numeric columns must be finite.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro.data.rawtext import read_text
from lmrepro.errors import LmreproError

# CSV column -> our column. Everything else in the CSV describes the cell or NVSim knobs.
PER_ACCESS_COLUMNS = {
    "OptimizationTarget": "target",
    "WordWidth (bit)": "word_bits",
    "Capacity (MB)": "capacity_mb",
    "ProcessNode": "node_nm",
    "Bits Per Cell": "bits_per_cell",
    "CellArea (F^2)": "cell_area_f2",
    "Area (mm^2)": "area_mm2",
    "Read Latency (ns)": "read_latency_ns",
    "Write Latency (ns)": "write_latency_ns",
    "Read Energy (pJ)": "read_energy_pj",
    "Write Energy (pJ)": "write_energy_pj",
    "Leakage Power (mW)": "leakage_mw",
}
TOTAL_COLUMNS = (
    "Benchmark Name",
    "Read Accesses",
    "Write Accesses",
    "Total Dynamic Read Energy (mJ)",
    "Total Dynamic Write Energy (mJ)",
)
VALUE_COLUMNS = (
    "area_mm2",
    "read_latency_ns",
    "write_latency_ns",
    "read_energy_pj",
    "write_energy_pj",
    "leakage_mw",
)
# The documented unit error of the dump's total columns (NVMExplorer issue #3).
KNOWN_TOTAL_UNIT_ERROR = 1000.0


@dataclass(frozen=True)
class TechConfig:
    """Which characterizations go into the table."""

    # technology name -> CSV file name under the nvmexplorer directory; the five NVMExplorer ships.
    files: dict
    # relative tolerance for the totals-vs-per-access consistency check (CSV values have 3-6 digits).
    total_check_rtol: float = 1e-3


def _cell_case(path_value: str, source: Path | None = None) -> str:
    """'data/cell_cfgs/RRAM_best_case.cell' -> 'best' (NVMExplorer's optimistic/pessimistic cell)."""
    stem = Path(str(path_value).strip()).stem.lower()
    for case in ("best", "worst"):
        if stem.endswith(f"_{case}_case"):
            return case
    where = f"{source}: " if source is not None else ""
    raise LmreproError(f"{where}cannot tell cell case from MemoryCellInputFile={path_value!r}")


def parse_cell_file(path: Path) -> dict:
    """NVSim .cell file ('-Key (unit): value' lines) -> {key: value}; used to document the cell."""
    out: dict = {}
    for i, line in enumerate(read_text(path, "utf-8", "NVSim '-Key: value' lines").split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("-") or ":" not in line:
            raise LmreproError(f"{path}:{i}: expected '-Key: value', got {line!r}")
        key, value = line[1:].split(":", 1)
        value = value.strip()
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value
    return out


def parse_csv(path: Path, technology: str, rtol: float = 1e-3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One NVMExplorer CSV -> (valid rows, failed rows), one row per cell case x target.

    NVSim writes -1 in every result column when it found no valid organisation for a
    target; those rows come back in the second frame (so the report can list them) and are
    never used.
    """
    path = Path(path)
    what = "an NVMExplorer comma-separated file with a header"
    text = read_text(path, "utf-8", what, require_final_newline=True)
    _check_fields(text, path, what)
    try:
        raw = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LmreproError(f"{path}: cannot read NVMExplorer CSV: {exc}") from exc
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in (*PER_ACCESS_COLUMNS, *TOTAL_COLUMNS, "MemoryCellInputFile") if c not in raw.columns]
    if missing:
        raise LmreproError(f"{path}: missing columns {missing}")
    df = raw.rename(columns=PER_ACCESS_COLUMNS)
    for col in (*VALUE_COLUMNS, "word_bits", "capacity_mb", "node_nm", "bits_per_cell", "cell_area_f2"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(df[col].to_numpy(float))
        if bad.any():
            lines = (np.flatnonzero(bad)[:5] + 2).tolist()  # + header line, 1-based
            raise LmreproError(f"{path}: column {col!r} is not a finite number on line(s) {lines}")
    df["cell_case"] = df["MemoryCellInputFile"].map(lambda value: _cell_case(value, path))
    df["target"] = df["target"].astype(str).str.strip()
    failed_mask = (df[list(VALUE_COLUMNS)] < 0).any(axis=1)
    keys = ["cell_case", "target"]
    valid = df[~failed_mask]
    _check_totals(valid, path, rtol)
    per_access = ["word_bits", "capacity_mb", "node_nm", "bits_per_cell", "cell_area_f2", *VALUE_COLUMNS]
    # The per-access values must not depend on the benchmark: one design per cell case x target.
    spread = valid.groupby(keys)[per_access].nunique()
    bad = spread[(spread > 1).any(axis=1)]
    if len(bad):
        raise LmreproError(f"{path}: per-access values differ across benchmarks for {bad.index.tolist()}")
    table = valid.groupby(keys, as_index=False)[per_access].first()
    table.insert(0, "technology", technology)
    table["capacity_bytes"] = (table["capacity_mb"] * 2**20).round().astype("int64")
    table["source_file"] = path.name
    failed = df[failed_mask][keys].drop_duplicates().assign(technology=technology, source_file=path.name)
    return table.drop(columns="capacity_mb"), failed.reset_index(drop=True)


def _check_fields(text: str, path: Path, what: str) -> None:
    """Every record has the header's number of fields (a cut or re-delimited line does not)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    if len(header) < 2:
        raise LmreproError(f"{path}:1: expected a comma-separated header ({what}), got {','.join(header)[:60]!r}")
    records = 0
    for fields in reader:
        if not fields:  # NVMExplorer writes none; rejecting them keeps row -> line numbers exact
            raise LmreproError(f"{path}:{reader.line_num}: blank line inside the table ({what})")
        records += 1
        if len(fields) != len(header):
            raise LmreproError(
                f"{path}:{reader.line_num}: expected {len(header)} comma-separated fields like the header,"
                f" got {len(fields)}: wrong delimiter or truncated line?"
            )
    if not records:
        raise LmreproError(f"{path}: header only, no characterization rows (expected {what})")


def _check_totals(df: pd.DataFrame, path: Path, rtol: float) -> None:
    """Totals must equal accesses x per-access energy x the known 1000x error, nothing else."""
    for kind in ("Read", "Write"):
        acc = pd.to_numeric(df[f"{kind} Accesses"], errors="coerce").to_numpy(float)
        per = df[f"{kind.lower()}_energy_pj"].to_numpy(float)
        total = pd.to_numeric(df[f"Total Dynamic {kind} Energy (mJ)"], errors="coerce").to_numpy(float)
        expected_mj = acc * per * 1e-9  # pJ -> mJ
        use = acc > 0
        if not use.any():
            continue
        ratio = total[use] / expected_mj[use]
        if not np.allclose(ratio, KNOWN_TOTAL_UNIT_ERROR, rtol=rtol):
            worst = float(ratio[np.argmax(np.abs(ratio - KNOWN_TOTAL_UNIT_ERROR))])
            raise LmreproError(
                f"{path}: 'Total Dynamic {kind} Energy (mJ)' / (accesses x per-access energy) = {worst:.6g},"
                f" expected the known {KNOWN_TOTAL_UNIT_ERROR:g}x unit error; the file does not match the"
                " NVMExplorer dump this parser was written for"
            )


def build_table(directory: Path, cfg: TechConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All technologies -> (table, failed characterizations)."""
    tables, failed = [], []
    for tech, name in cfg.files.items():
        path = Path(directory) / name
        if not path.is_file():
            raise LmreproError(f"edge.tech.files.{tech}: {path} does not exist")
        t, f = parse_csv(path, tech, cfg.total_check_rtol)
        tables.append(t)
        failed.append(f)
    table = pd.concat(tables, ignore_index=True)
    if table.empty:
        raise LmreproError(f"{directory}: no valid characterization in any of {list(cfg.files.values())}")
    table = table.sort_values(["technology", "cell_case", "target"]).reset_index(drop=True)
    fail = pd.concat(failed, ignore_index=True)
    return table, fail[["technology", "cell_case", "target", "source_file"]]


def select(table: pd.DataFrame, technology: str, target: str, cell_case: str) -> pd.Series:
    """The one characterization a design uses; clear error when it is missing or failed."""
    rows = table[(table.technology == technology) & (table.target == target) & (table.cell_case == cell_case)]
    if len(rows) != 1:
        have = table[table.technology == technology][["cell_case", "target"]].values.tolist()
        raise LmreproError(
            f"technology table has no valid {technology} / {cell_case} / {target} array"
            f" (NVSim failed or not characterized); available for {technology}: {have}"
        )
    return rows.iloc[0]


@dataclass(frozen=True)
class ScaledArray:
    """A memory of some capacity built from a characterized array (energies per access)."""

    n_arrays: float  # copies of the characterized array (fractional under linear scaling)
    read_energy_pj: float  # per word access
    write_energy_pj: float
    read_latency_ns: float
    write_latency_ns: float
    leakage_mw: float  # whole memory
    area_mm2: float  # whole memory
    word_bits: int


def n_arrays(bytes_needed, array_bytes, scaling: str):
    """Number of characterized arrays needed; vectorized over both arguments."""
    ratio = np.asarray(bytes_needed, dtype=float) / np.asarray(array_bytes, dtype=float)
    if scaling == "linear":
        return ratio
    if scaling == "tile":
        return np.ceil(ratio)
    raise LmreproError(f"edge.energy.scaling: expected 'linear' or 'tile', got {scaling!r}")


def scale_array(row: pd.Series, bytes_needed: float, scaling: str) -> ScaledArray:
    """Scale one characterized array (a `select` row) to hold `bytes_needed` bytes."""
    if bytes_needed < 0 or not math.isfinite(bytes_needed):
        raise LmreproError(f"cannot size a memory for {bytes_needed} bytes")
    n = float(n_arrays(bytes_needed, row["capacity_bytes"], scaling))
    return ScaledArray(
        n_arrays=n,
        read_energy_pj=float(row["read_energy_pj"]),
        write_energy_pj=float(row["write_energy_pj"]),
        read_latency_ns=float(row["read_latency_ns"]),
        write_latency_ns=float(row["write_latency_ns"]),
        leakage_mw=n * float(row["leakage_mw"]),
        area_mm2=n * float(row["area_mm2"]),
        word_bits=int(row["word_bits"]),
    )
