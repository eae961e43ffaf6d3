"""Report sections in the order they appear in reports/results.md.

Each entry is a module with ``render(root: Path) -> str``; those in USES_SOURCES also
take the rec datasets' entries (``sources=``, params data.rec.sources: published
statistics and peer rows are data of a dataset, not code). A track adds its module here
when it lands. The imports are explicit (not module names resolved at run time) so that
:mod:`lmrepro.codedeps` sees them and the evaluate rule reruns when a section changes.
"""

from types import ModuleType

from lmrepro.data import report as data_report
from lmrepro.edge import report as edge_report
from lmrepro.mta import report as mta_report
from lmrepro.prosg import report as prosg_report
from lmrepro.rec import report as rec_report

SECTIONS: tuple[ModuleType, ...] = (
    data_report,
    rec_report,
    mta_report,
    prosg_report,
    edge_report,
)

USES_SOURCES: tuple[ModuleType, ...] = (data_report, rec_report)
