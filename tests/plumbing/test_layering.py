"""The layout the README promises: plumbing in the top-level package knows no track, and
the track list exists once (lmrepro.tracks).

Why a test: the rule is easy to break by one convenient import (a plumbing module that
builds a track's model, or lists the tracks again), and nothing else would notice until
the lists drift apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lmrepro import tracks
from lmrepro.errors import LmreproError

SRC = Path(__file__).resolve().parents[2] / "src" / "lmrepro"
# Packages holding a track's logic: the research tracks and the raw-data builders.
TRACK_PACKAGES = (*tracks.TRACKS, "data")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names in ``path`` (at any depth,
    so imports inside functions count), with ``from lmrepro import x`` as ``lmrepro.x``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom):  # relative: from .x import y inside lmrepro/
            found |= {f"lmrepro.{node.module or alias.name}" for alias in node.names}
    return found


def track_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "lmrepro" and parts[1] in TRACK_PACKAGES else None


def test_top_level_modules_import_no_track():
    top = sorted(SRC.glob("*.py"))
    assert len(top) > 5, f"no top-level modules found under {SRC}"
    offenders = {f"{p.name}: {m}" for p in top for m in imported_modules(p) if track_of(m)}
    assert not offenders, f"top-level plumbing imports a track module: {sorted(offenders)}"


def test_the_checker_sees_lazy_and_from_imports(tmp_path):
    """The check must fail on the ways a track sneaks in: a function-level import and
    ``from lmrepro import <track>``."""
    f = tmp_path / "plumbing.py"
    f.write_text("def f():\n    from lmrepro.rec.models import t5\n\nfrom lmrepro import mta\n")
    assert {track_of(m) for m in imported_modules(f)} >= {"rec", "mta"}


def _string_sequences(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == len(node.elts):
                yield node.lineno, set(values)


def test_the_track_list_is_written_once():
    """No other source spells out every track in a tuple, list or set literal."""
    here = SRC / "tracks.py"
    copies = [f"{p.relative_to(SRC)}:{line}" for p in sorted(SRC.rglob("*.py")) if p != here
              for line, values in _string_sequences(p) if set(tracks.TRACKS) <= values]
    assert not copies, f"track list written again (derive it from lmrepro.tracks): {copies}"


def test_by_track_orders_and_rejects_drift():
    assert list(tracks.by_track({t: t.upper() for t in reversed(tracks.TRACKS)}, "x")) == list(tracks.TRACKS)
    with pytest.raises(LmreproError, match="missing \\['edge'\\]"):
        tracks.by_track({t: 1 for t in tracks.TRACKS if t != "edge"}, "benchmarks")
    with pytest.raises(LmreproError, match="unknown \\['vision'\\]"):
        tracks.by_track({**{t: 1 for t in tracks.TRACKS}, "vision": 1}, "benchmarks")


def test_consumers_derive_from_the_one_list():
    from lmrepro import tracking
    from lmrepro.report.sections import SECTIONS

    assert tuple(tracking.TRACKS) == tracks.EXPERIMENTS
    assert [m.__name__ for m in SECTIONS] == [f"lmrepro.{t}.report" for t in tracks.REPORT_SECTIONS]
