"""The appendix of results.md: what we do to the pipeline to see whether it breaks.

Why a link and not the table: the fault table is written by the fault-injection tests
(``make faults``: ``pytest -m fault`` with LMREPRO_FAULT_TABLE set, tests/faults.py), not
by a pipeline stage, so the evaluate stage points at it rather than copying a file it did
not compute.
"""

from __future__ import annotations

import os
from pathlib import Path

FAULTS = Path("reports") / "faults.md"


def faults_note(md: Path, root: Path) -> str:
    """The appendix section that links the fault table (relative to results.md)."""
    link = Path(os.path.relpath(root / FAULTS, md.parent)).as_posix()
    return ("## Appendix: faults injected\n\n"
            f"[{FAULTS.name}]({link}): each fault the tests inject into the pipeline (killed runs, racing "
            "trackers, malformed raw files, bad params, stale locks), what the user saw and whether anything "
            "was lost. Rows come only from tests that passed in the run that wrote the table "
            "(`make faults`); nobody types them.\n")
