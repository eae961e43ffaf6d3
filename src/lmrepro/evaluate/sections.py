"""Report sections in the order they appear in reports/results.md.

Each entry is a module with ``render(root: Path) -> str``. A track adds its module here
when it lands; the evaluate rule lists these modules as code inputs.
"""

SECTIONS: list[str] = [
    "lmrepro.data.report",
    "lmrepro.rec.report",
    "lmrepro.mta.report",
    "lmrepro.prosg.report",
    "lmrepro.edge.report",
]
