"""The data section of reports/results.md: what was built, checked against the sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from lmrepro.data.catalog import RecSource

def render(root: Path, sources: Mapping[str, RecSource] | None = None) -> str:
    """``sources``: params data.rec.sources, in params order; a dataset's published
    statistics (optional metadata of its entry) are checked against ours, one without
    them is listed with '-'."""
    lines = ["## Data", ""]
    rows = []
    for dataset, entry in (sources or {}).items():
        f = root / "reports" / "metrics" / "data" / f"rec-{dataset}.json"
        if not f.is_file():
            continue
        m = json.loads(f.read_text())
        pub = entry.published
        if pub is None:
            published, check = "-", "-"
        else:
            ok = (m["users"], m["items"], m["interactions"]) == (pub.users, pub.items, pub.interactions)
            published, check = f"{pub.users:,} / {pub.items:,} / {pub.interactions:,}", "match" if ok else "MISMATCH"
        rows.append(f"| {dataset} | {m['users']:,} | {m['items']:,} | {m['interactions']:,} | {published} | {check} |")
    if rows:
        lines += [
            "Amazon 2014 5-core, leave-one-out (last item test, second-last validation).",
            "",
            "| dataset | users | items | interactions | published (users / items / interactions) | check |",
            "|---|---:|---:|---:|---|---|",
            *rows,
            "",
        ]
    counts = root / "reports" / "data" / "nlu_counts.md"
    if counts.is_file():
        lines += ["NLU tasks: per-task counts and label balance in [data/nlu_counts.md](data/nlu_counts.md).", ""]
    corpus = root / "reports" / "metrics" / "data" / "corpus.json"
    if corpus.is_file():
        m = json.loads(corpus.read_text())
        lines += [
            f"LM corpus: {m.get('train.documents', 0)} training documents ({m.get('train.characters', 0):,} characters), "
            f"{m.get('valid.documents', 0)} held-out documents ({m.get('valid.characters', 0):,} characters).",
            "",
        ]
    return "\n".join(lines)
