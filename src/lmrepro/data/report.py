"""The data section of reports/results.md: what was built, checked against the sources."""

from __future__ import annotations

import json
from pathlib import Path

# Published statistics (papers.md; P5, TIGER and LightLM use the same 5-core files).
PUBLISHED_REC = {
    "beauty": (22363, 12101, 198502),
    "sports": (35598, 18357, 296337),
    "toys": (19412, 11924, 167597),
}


def render(root: Path) -> str:
    lines = ["## Data", ""]
    rows = []
    for dataset, (users, items, inter) in PUBLISHED_REC.items():
        f = root / "reports" / "metrics" / "data" / f"rec-{dataset}.json"
        if not f.is_file():
            continue
        m = json.loads(f.read_text())
        ok = (m["users"], m["items"], m["interactions"]) == (users, items, inter)
        rows.append(f"| {dataset} | {m['users']:,} | {m['items']:,} | {m['interactions']:,} | "
                    f"{users:,} / {items:,} / {inter:,} | {'match' if ok else 'MISMATCH'} |")
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
