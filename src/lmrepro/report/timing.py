"""reports/timing.md: the cost and timing page, apart from the results.

Why a page of its own: wall times depend on the machine and its load, and MLflow run ids
change with every run. Kept out of results.md, summary.md, metrics.json and every track's
result files, all those are byte-identical between two runs of the same commit, params
and thread count, so a user can diff two reproductions and DVC sees no change where
there is none (tests/test_reproducible.py). Only the timing files
(reports/<track>/timing/*.json, declared outputs of the stages that measure them), this
page and reports/provenance.md differ.

A track formats its own timing files when its report section module (sections.py) has
``render_timing(root, paths) -> str`` (rec, mta, prosg); the others get a generic table of every
scalar in each file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from lmrepro.errors import LmreproError
from lmrepro.report.sections import BY_TRACK

TITLES = {"rec": "LightLM", "mta": "ALTER (MTA)", "prosg": "ProSG", "edge": "Edge memory simulation"}
# a dict or list longer than this is summarised ("see the file") rather than spread over rows
MAX_ENTRIES = 12


def timing_files(files: list[Path], root: Path) -> dict[str, list[Path]]:
    """{track: [paths relative to root]} of the files under reports/<track>/timing/."""
    out: dict[str, list[Path]] = {}
    for f in files:
        rel = Path(os.path.relpath(Path(f).resolve(), Path(root).resolve())) if Path(f).is_absolute() else Path(f)
        parts = rel.parts
        if len(parts) == 4 and parts[0] == "reports" and parts[2] == "timing" and rel.suffix == ".json":
            out.setdefault(parts[1], []).append(rel)
    return {track: sorted(set(paths)) for track, paths in sorted(out.items())}


def _flatten(obj: dict, prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and len(value) <= MAX_ENTRIES:
            yield from _flatten(value, name + ".")
        elif isinstance(value, (dict, list)):
            yield name, f"({len(value)} entries, see the file)"
        elif isinstance(value, bool) or value is None:
            yield name, str(value)
        elif isinstance(value, (int, float)):
            yield name, f"{value:.4g}"
        else:
            yield name, str(value).replace("|", "\\|")


def generic_table(root: Path, paths: list[Path]) -> str:
    """Every scalar of every timing file, one row each (nested keys joined by '.')."""
    lines = ["| file | quantity | value |", "|---|---|---:|"]
    for path in paths:
        try:
            data = json.loads((root / path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise LmreproError(f"{root / path}: cannot read timing JSON ({err})") from err
        if not isinstance(data, dict):
            raise LmreproError(f"{root / path}: a timing file must hold a JSON object, not {type(data).__name__}")
        lines += [f"| {path.name} | {k} | {v} |" for k, v in _flatten(data)]
    return "\n".join(lines) + "\n"


# the report sections' modules by track (imported explicitly there, so codedeps sees them)
_MODULES = BY_TRACK


def _track_section(root: Path, track: str, paths: list[Path]) -> str:
    render = getattr(_MODULES.get(track), "render_timing", None)
    body = render(root, paths) if render else generic_table(root, paths)
    listing = ", ".join(f"`{p.name}`" for p in paths)
    return (f"## {TITLES.get(track, track)}\n\nFrom `reports/{track}/timing/` ({listing}).\n\n"
            f"{body.strip()}\n")


def render_timing(root: Path, files: list[Path], stamp: str) -> str:
    """The whole page from the declared timing files among ``files``; ``stamp`` is the
    profile/params/commit line that also heads results.md."""
    tracks = timing_files(files, root)
    parts = [
        "# lmrepro cost and timing",
        "",
        f"{stamp}",
        "",
        "Wall-clock (and where measured, CPU) times of the stage runs behind [results.md](results.md), "
        "read from the timing files the stages write. They depend on the machine, its load and the thread "
        "count, so they live here and nowhere in the results: compare them within one run. This page (with "
        "provenance.md and the timing files) is the only part of reports/ that differs between two runs of "
        "the same commit, params and threads.",
        "",
    ]
    if not tracks:
        parts += ["No stage of this run wrote a timing file.", ""]
    order = list(_MODULES)  # the order of results.md, then any other track
    for track in sorted(tracks, key=lambda t: (order.index(t) if t in order else len(order), t)):
        parts.append(_track_section(root, track, tracks[track]))
    return "\n".join(parts).rstrip() + "\n"


def per_run_note(md: Path, timing: Path, provenance: Path) -> str:
    """The results.md section that links the two per-run pages."""
    def link(p: Path) -> str:
        return Path(os.path.relpath(p, md.parent)).as_posix()

    return (f"## Cost, timing and provenance\n\nWall times of the runs behind these results: "
            f"[{timing.name}]({link(timing)}). The MLflow run that wrote each input of this report: "
            f"[{provenance.name}]({link(provenance)}). These two pages and the timing files change with every "
            f"run; everything else in reports/ is byte-identical between two runs of the same commit, params "
            f"and threads.\n")
