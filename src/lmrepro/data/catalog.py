"""The sequence datasets of the rec track, as data: params ``data.rec.sources``.

A dataset is one file of ``<user> <item> <item> ...`` lines in the manifest's ``rec/``
group plus optional metadata: the statistics a paper published for it (the data
section checks ours against them) and peers' numbers from a paper's table (shown beside
ours). Adding a user's own file therefore needs a params overlay entry and a manifest
line, no code: every reader takes the entry from params, and a dataset without
published statistics or peer rows simply has none in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from lmrepro.errors import LmreproError

# TIGER Table 1 columns of a peer row (sequential setting, full data)
PEER_COLUMNS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")


@dataclass(frozen=True)
class Published:
    """Statistics a paper reports for the dataset (after its own 5-core filtering)."""

    users: int
    items: int
    interactions: int


@dataclass(frozen=True)
class RecSource:
    name: str
    file: str  # name inside the manifest's rec/ group, e.g. "Beauty.txt" (fetched to data/raw/rec/)
    published: Published | None = None  # optional: checked by the data section of results.md
    peers: dict[str, tuple[float, ...]] = field(default_factory=dict)  # optional: peer -> PEER_COLUMNS values


def rec_sources(section: Mapping[str, Any]) -> dict[str, RecSource]:
    """``data.rec.sources`` (already schema-checked) as RecSource objects, in params order."""
    out = {}
    for name, entry in section.items():
        pub = entry.get("published")
        peers = {peer: tuple(float(v) for v in values) for peer, values in (entry.get("peers") or {}).items()}
        for peer, values in peers.items():
            if len(values) != len(PEER_COLUMNS):
                raise LmreproError(f"data.rec.sources.{name}.peers.{peer}: {len(values)} values, "
                                   f"expected {len(PEER_COLUMNS)} ({', '.join(PEER_COLUMNS)})")
        out[name] = RecSource(name=name, file=str(entry["file"]),
                              published=Published(int(pub["users"]), int(pub["items"]), int(pub["interactions"])) if pub else None,
                              peers=peers)
    return out


def source(section: Mapping[str, Any], name: str) -> RecSource:
    sources = rec_sources(section)
    if name not in sources:
        raise LmreproError(f"data.rec.sources: no entry {name!r} (known: {', '.join(sources)}); "
                           "add one with its file name in the manifest's rec/ group")
    return sources[name]
