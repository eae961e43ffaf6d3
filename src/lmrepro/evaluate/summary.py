"""The one-screen summary: every claim of reports/results.md with its verdict.

Why a separate file: the README shows the summary, and a README must not carry numbers
typed by hand. The evaluate stage writes reports/summary.md from the same text as
results.md; ``python -m lmrepro.evaluate.summary --readme README.md`` copies it between
the README's markers, and a test fails when the two differ.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from lmrepro.errors import LmreproError

START = "<!-- results-summary:start -->"
END = "<!-- results-summary:end -->"

# the verdict vocabulary of the track reports, longest first so "not supported" wins over "supported"
_VERDICT = re.compile(
    r"(not supported|partly supported|supported|contradicted|inconclusive|does not survive|survives)",
    re.IGNORECASE,
)


def _paper(heading: str) -> str:
    """'## ALTER: Mixture-of-Task-Adapters (MTA)' -> 'ALTER'."""
    return re.split(r"[:(]", heading[3:], maxsplit=1)[0].strip()


def _claim(line: str) -> str:
    """The claim's label: the bullet's leading emphasised phrase (plus a parenthesis right
    after it) if it has one, else its text up to the first colon; emphasis removed."""
    text = line[2:]
    lead = re.match(r"(\*\*?)(.+?)\1(\s*\([^)]*\))?", text)
    text = lead.group(2) + (lead.group(3) or "") if lead else text.split(":", 1)[0]
    text = re.sub(r"^Claim:\s*", "", text.replace("*", ""))
    label = text.strip().rstrip(".:")
    return label if len(label) <= 110 else label[:107].rstrip() + "..."


def claim_rows(results_md: str) -> list[tuple[str, str, str]]:
    """(paper, claim, verdict) for every bullet under a '## ' section that states a verdict."""
    rows, paper = [], None
    for line in results_md.splitlines():
        if line.startswith("## "):
            paper = _paper(line)
            continue
        if paper is None or not line.startswith("- "):
            continue
        found = _VERDICT.findall(line)
        if not found:
            continue
        rows.append((paper, _claim(line), found[-1].lower()))
    return rows


def render(results_md: str) -> str:
    rows = claim_rows(results_md)
    if not rows:
        return "No claim has a verdict yet: run the pipeline (`make reproduce`).\n"
    lines = ["| paper | claim (our test of it) | verdict at our scale |", "|---|---|---|"]
    lines += [f"| {p} | {c} | {v} |" for p, c, v in rows]
    lines += ["", "Numbers, scale and substitutions: [reports/results.md](reports/results.md)."]
    return "\n".join(lines) + "\n"


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
    ap = argparse.ArgumentParser(prog="python -m lmrepro.evaluate.summary", description=__doc__.split("\n\n")[0])
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
