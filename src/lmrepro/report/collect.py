"""Collect metrics JSON files into one DVC metrics file and render results.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from lmrepro.data.catalog import RecSource
from lmrepro.errors import LmreproError
from lmrepro.report.sections import SECTIONS, USES_SOURCES


def collect_metrics(files: list[Path], root: Path) -> dict:
    """{"<track>/<name>": {...}} from reports/metrics/<track>/<name>.json files."""
    merged: dict = {}
    base = root / "reports" / "metrics"
    for f in sorted(files):
        try:
            key = str(f.resolve().relative_to(base.resolve()).with_suffix(""))
        except ValueError:
            key = f.stem
        try:
            merged[key] = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise LmreproError(f"{f}: cannot read metrics JSON ({err})") from err
    return merged


def render_results(root: Path, header: str, sources: Mapping[str, RecSource] | None = None) -> str:
    parts = [header]
    for module in SECTIONS:
        text = (module.render(root, sources=sources) if module in USES_SOURCES else module.render(root)).strip()
        if text:
            parts.append(text)
    return "\n\n".join(parts) + "\n"
