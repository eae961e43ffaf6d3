"""The research tracks, listed once.

Why here, as names only: tracking (one MLflow experiment per track), the report sections,
the GPU check and the benchmarks all iterate over the tracks. Written out in each of them,
the lists drift (a track added to one is missing from another). The plumbing in the
top-level package must not import a track (README: plumbing at the top, logic per track),
so this module holds names; the packages that do import tracks (:mod:`lmrepro.report`,
:mod:`lmrepro.tools`) map each name to its module with explicit imports (so
:mod:`lmrepro.codedeps` sees them) and check the mapping with :func:`by_track`.
"""

from __future__ import annotations

from typing import Mapping, TypeVar

from lmrepro.errors import LmreproError

T = TypeVar("T")

TRACKS = ("rec", "mta", "prosg", "edge")  # the research tracks, in report order
REPORT_SECTIONS = ("data", *TRACKS)  # reports/results.md: the data section, then each track
EXPERIMENTS = ("data", *TRACKS, "evaluate", "pipeline")  # MLflow: data, tracks, report stage, invocations


def by_track(mapping: Mapping[str, T], what: str, names: tuple[str, ...] = TRACKS) -> dict[str, T]:
    """``mapping`` ordered as ``names``; raises when it misses a track or has one too many."""
    missing, extra = sorted(set(names) - set(mapping)), sorted(set(mapping) - set(names))
    if missing or extra:
        raise LmreproError(f"{what}: tracks {list(names)} (lmrepro.tracks) but missing {missing}, unknown {extra}")
    return {name: mapping[name] for name in names}
