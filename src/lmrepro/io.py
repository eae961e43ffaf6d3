"""Atomic, schema-checked reading and writing of every artifact.

Why: a stage killed half way must never leave a file that looks finished, and a stage
that fails must not destroy the good output of the previous run. Every write goes to a
temporary sibling that replaces the target in one ``os.replace``. While a stage runs,
:class:`OutputJournal` remembers what it replaced so that a failure restores the
previous outputs and removes the new ones (all-or-nothing per stage).

A process killed outright (SIGKILL, OOM) cannot clean up: its temporary and backup
siblings carry the writer's host and pid in their names, so :func:`clean_stale_files`
(run when the next stage starts) removes exactly those whose writer is gone. Finished
outputs get the permissions the umask gives any new file, whatever the writer used
(safetensors writes through a 0600 temporary file).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import uuid
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from lmrepro.errors import LmreproError
from lmrepro.procs import pid_alive

_JOURNAL: contextvars.ContextVar["OutputJournal | None"] = contextvars.ContextVar(
    "lmrepro_output_journal", default=None
)


# Host tag in temporary names: a pid means nothing on another machine of a shared disk.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
# .<name>.(tmp|bak|old)-<host>-<pid>-<8 hex>[suffix]; older versions wrote no host (tmp)
# or neither host nor pid (bak, old): those can only be leftovers of a previous version.
_SCRATCH = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|bak|old)-(?:(?:(?P<host>[0-9a-f]{6})-)?(?P<pid>\d+)-)?[0-9a-f]{8}(?:\.[^/]*)?$")
# Top-level folders that hold stage outputs (dvc.yaml outs live under these).
OUTPUT_DIRS = ("data", "models", "reports")


def _scratch_tag() -> str:
    return f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def is_stale_scratch(name: str) -> bool:
    """True for a temporary/backup name of ours whose writer is certainly gone."""
    match = _SCRATCH.match(name)
    if match is None:
        return False
    if match["pid"] is None or match["host"] is None:
        return True  # written by a previous version of this module: no writer can remain
    if match["host"] != _HOST:
        return False  # another machine's process: cannot tell, leave it
    pid = int(match["pid"])
    return pid != os.getpid() and not pid_alive(pid)


def clean_stale_files(root: str | os.PathLike, dirs: tuple[str, ...] = OUTPUT_DIRS) -> list[Path]:
    """Undo what killed writers left next to their outputs; returns the scratch files handled.

    Why: ``OutputJournal.replace`` renames the old output to ``.<name>.bak-...`` before
    moving the new one in, and a stage's journal removes its backups only once the whole
    stage succeeded. A backup whose writer is dead therefore holds the last good version
    of an output whose stage never finished: it is put back in place (rolled back, as the
    journal itself would have done), never deleted, so a SIGKILL between the two renames
    loses nothing; a folder's ``.old`` copy likewise comes back when the new folder never
    arrived. Temporary files of dead writers are removed. Files of live processes (a
    parallel job) are kept.
    """
    handled: list[Path] = []
    for top in dirs:
        base = Path(root) / top
        if not base.is_dir():
            continue
        for folder, subdirs, files in os.walk(base):
            for name in [*subdirs, *files]:
                if name.startswith(".") and is_stale_scratch(name):
                    path = Path(folder) / name
                    match = _SCRATCH.match(name)
                    final = path.with_name(match["name"])
                    if match["kind"] == "bak" or (match["kind"] == "old" and not final.exists()):
                        _remove(final)  # (bak) a new version from a stage that never finished
                        os.replace(path, final)
                    else:
                        _remove(path)
                    handled.append(path)
            subdirs[:] = [d for d in subdirs if not (Path(folder) / d) in handled]
    return handled


def _umask() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no read-only query before Python 3.13 off Linux
    os.umask(mask)
    return mask


def _honour_umask(path: Path) -> None:
    """Give ``path`` (and a folder's contents) the modes a plain ``open``/``mkdir`` would."""
    mask = _umask()
    paths = [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]
    for p in paths:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        executable = stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111
        wanted = (0o777 if executable else 0o666) & ~mask
        if stat.S_IMODE(st.st_mode) != wanted:
            os.chmod(p, wanted)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


class OutputJournal:
    """Records the outputs a stage replaced, to commit or roll them back together."""

    def __init__(self) -> None:
        self._written: list[Path] = []
        self._backups: dict[Path, Path] = {}
        self._token: contextvars.Token | None = None

    def __enter__(self) -> "OutputJournal":
        self._token = _JOURNAL.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        _JOURNAL.reset(self._token)
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def replace(self, tmp: Path, final: Path) -> None:
        if final not in self._backups and final not in self._written and final.exists():
            backup = final.with_name(f".{final.name}.bak-{_scratch_tag()}")
            os.replace(final, backup)
            self._backups[final] = backup
        elif final.exists():
            _remove(final)
        os.replace(tmp, final)
        self._written.append(final)

    @property
    def written(self) -> list[Path]:
        return list(dict.fromkeys(self._written))

    def commit(self) -> None:
        for backup in self._backups.values():
            _remove(backup)
        self._backups.clear()

    def rollback(self) -> None:
        for final in self.written:
            _remove(final)
        for final, backup in self._backups.items():
            os.replace(backup, final)
        self._backups.clear()


def _replace(tmp: Path, final: Path) -> None:
    journal = _JOURNAL.get()
    if journal is not None:
        journal.replace(tmp, final)
        return
    if final.is_dir() and not final.is_symlink():
        backup = final.with_name(f".{final.name}.old-{_scratch_tag()}")
        os.replace(final, backup)
        os.replace(tmp, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) that replaces ``path`` on success.

    Works for files and folders: whatever the caller creates at the yielded path. Modes
    are set from the umask before the replace (see :func:`_honour_umask`).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.tmp-{_scratch_tag()}{final.suffix}")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if not tmp.exists():
        raise LmreproError(f"{final}: the writer produced no output")
    try:
        _honour_umask(tmp)
    except BaseException:
        _remove(tmp)
        raise
    _replace(tmp, final)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Sorted keys and a trailing newline, so equal content gives equal bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise LmreproError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise LmreproError(f"{path}: not valid JSON ({err})") from err


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _schema_name(schema: type[pa.DataFrameModel]) -> str:
    return getattr(schema, "__name__", str(schema))


def validate(df: pd.DataFrame, schema: type[pa.DataFrameModel], where: str | os.PathLike) -> pd.DataFrame:
    """Validate against a pandera model; the error names the file, columns and rows."""
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        lines = []
        for row in cases.head(12).itertuples(index=False):
            column = getattr(row, "column", None)
            check = getattr(row, "check", None)
            index = getattr(row, "index", None)
            value = getattr(row, "failure_case", None)
            lines.append(f"  column {column!r}: check {check!r} failed at row {index} (value {value!r})")
        more = f"\n  ... and {len(cases) - 12} more" if len(cases) > 12 else ""
        raise LmreproError(
            f"{where}: does not match schema {_schema_name(schema)} "
            f"({len(cases)} failure(s)):\n" + "\n".join(lines) + more
        ) from None


def write_table(df: pd.DataFrame, path: str | os.PathLike, schema: type[pa.DataFrameModel]) -> pd.DataFrame:
    """Validate ``df`` and write it as Parquet atomically; returns the validated frame."""
    checked = validate(df, schema, path)
    table = pa_arrow.Table.from_pandas(checked, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return checked


def read_table(path: str | os.PathLike, schema: type[pa.DataFrameModel] | None) -> pd.DataFrame:
    """Read a Parquet table and validate it (clear error for missing or corrupt files)."""
    path = Path(path)
    if not path.is_file():
        raise LmreproError(f"{path}: file not found")
    try:
        df = pq.read_table(path).to_pandas()
    except (pa_arrow.ArrowException, OSError) as err:
        raise LmreproError(f"{path}: not a readable Parquet file (corrupt or truncated?): {err}") from err
    return df if schema is None else validate(df, schema, path)
