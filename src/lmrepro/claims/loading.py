"""Shared pieces of the tracks' outcome loaders: averaging arms, aligning units."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from lmrepro.claims.stats import Outcomes
from lmrepro.errors import LmreproError


def as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def expand(select: dict) -> list[dict]:
    """{'method': ['a', 'b'], 'model': 'x'} -> [{'method': 'a', 'model': 'x'}, {'method': 'b', ...}]."""
    runs = [{}]
    for key, value in select.items():
        runs = [{**r, key: v} for r in runs for v in as_list(value)]
    return runs


def mean_of_runs(frames: list[pd.Series], where: str) -> pd.Series:
    """Average per-unit outcomes over runs that must share the same units (an arm set)."""
    index = frames[0].index
    for f in frames[1:]:
        if not f.index.equals(index):
            raise LmreproError(f"{where}: the runs of one arm were evaluated on different units; they cannot be paired")
    return sum(frames) / len(frames)


def outcomes_from_series(series: pd.Series, where: str, strata_level: str | None = None, seed_level: str | None = None) -> Outcomes:
    """A Series indexed by (seed?, unit...) -> Outcomes with values (S, N)."""
    if series.empty:
        raise LmreproError(f"{where}: no per-unit outcomes")
    if seed_level is not None:
        table = series.unstack(seed_level).sort_index()
        if table.isna().any().any():
            raise LmreproError(f"{where}: not every unit was scored under every seed")
        values = table.to_numpy().T  # (S, N)
        units_index = table.index
    else:
        series = series.sort_index()
        values = series.to_numpy()[None, :]
        units_index = series.index
    strata = np.asarray(units_index.get_level_values(strata_level)) if strata_level else None
    units = np.array(["/".join(map(str, u)) if isinstance(u, tuple) else str(u) for u in units_index])
    return Outcomes(values.astype(float), units, strata)


# The per-unit tables this run declared (evaluate's --claim-files), or None: any file on
# disk. Why: a file another grid or profile left behind (e.g. a run the default profile no
# longer trains) must not be paired with this run's tables; with the declared list such a
# file counts as not run, so its claim is "not tested" instead of tested on stale units.
DECLARED: ContextVar[frozenset[Path] | None] = ContextVar("declared_outcomes", default=None)


@contextmanager
def declared_outcomes(paths) -> Iterator[None]:
    """Within the block, read_outcomes accepts only these files (resolved paths)."""
    token = DECLARED.set(frozenset(Path(p).resolve() for p in paths))
    try:
        yield
    finally:
        DECLARED.reset(token)


def read_outcomes(path: Path, schema) -> pd.DataFrame:
    """A schema-checked per-unit table; a missing file names the stage to run."""
    from lmrepro import io

    if not path.is_file():
        raise LmreproError(f"{path}: per-unit outcomes not found (run the stage that writes it)")
    declared = DECLARED.get()
    if declared is not None and path.resolve() not in declared:
        raise LmreproError(f"{path}: per-unit outcomes not found among this run's declared inputs "
                           "(a file another grid or profile left on disk)")
    return io.read_table(path, schema)


def cached_reader(path: Path, schema) -> Callable[[], pd.DataFrame]:
    """A per-unit table read (and schema-checked) once, on first use, by every arm of a loader."""
    cache: dict[str, pd.DataFrame] = {}

    def read() -> pd.DataFrame:
        if "df" not in cache:
            cache["df"] = read_outcomes(path, schema)
        return cache["df"]

    return read


Loader = Callable[[dict, str], Outcomes]

# The value a region loader gives a design at a scenario it cannot serve (infeasible,
# worn out): it loses that scenario to any design that can.
LOSES = 1e30
