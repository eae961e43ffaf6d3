"""The README's copy of reports/summary.md (every claim with its verdict).

Why a separate file: the README shows the summary, and a README must not carry numbers
typed by hand. The evaluate stage renders reports/summary.md from the claim results
(the same objects as reports/claims.json, see lmrepro.report.claims);
``python -m lmrepro.report.summary --readme README.md`` copies it between the README's
markers, and a test fails when the two differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmrepro.errors import LmreproError

START = "<!-- results-summary:start -->"
END = "<!-- results-summary:end -->"

def sync_readme(readme: Path, summary: str) -> bool:
    """Replace the text between the README's markers; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise LmreproError(f"{readme}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{summary}{END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def readme_block(readme: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise LmreproError(f"{readme}: markers {START} / {END} not found")
    return text.split(START, 1)[1].split(END, 1)[0].lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lmrepro.report.summary", description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", type=Path, default=Path("reports/summary.md"))
    ap.add_argument("--readme", type=Path, default=Path("README.md"))
    args = ap.parse_args(argv)
    try:
        if not args.summary.is_file():
            raise LmreproError(f"{args.summary}: not found (run the pipeline: the evaluate stage writes it)")
        changed = sync_readme(args.readme, args.summary.read_text(encoding="utf-8"))
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.readme}: {'updated' if changed else 'already current'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
