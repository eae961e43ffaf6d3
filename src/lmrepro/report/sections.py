"""Report sections in the order they appear in reports/results.md.

Each section is a module with ``render(root: Path) -> str`` (and optionally
``render_timing``); those in USES_SOURCES also take the rec datasets' entries
(``sources=``, params data.rec.sources: published statistics and peer rows are data of a
dataset, not code). The order and the set come from :data:`lmrepro.tracks.REPORT_SECTIONS`;
a track adds its ``report`` module below when it lands, and :func:`lmrepro.tracks.by_track`
fails if the two disagree. The imports are explicit (not module names resolved at run
time) so that :mod:`lmrepro.codedeps` sees them and the evaluate rule reruns when a
section changes.
"""

from types import ModuleType

from lmrepro.data import report as data
from lmrepro.edge import report as edge
from lmrepro.mta import report as mta
from lmrepro.prosg import report as prosg
from lmrepro.rec import report as rec
from lmrepro.tracks import REPORT_SECTIONS, by_track

BY_TRACK: dict[str, ModuleType] = by_track(
    {"data": data, "rec": rec, "mta": mta, "prosg": prosg, "edge": edge}, "report sections", REPORT_SECTIONS)
SECTIONS: tuple[ModuleType, ...] = tuple(BY_TRACK.values())

USES_SOURCES: tuple[ModuleType, ...] = (data, rec)
