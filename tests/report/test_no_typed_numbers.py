"""No number in report prose is typed by hand: every digit that reaches results.md comes
from a formatted value. The check reads each report module's string literals (f-string
text parts included, format specs excluded) and allows only digits that are part of a
name (HR@10, T5, RWKV-4, MiniLM-L6), a citation (arXiv id, section, table) or a fixed
statistical convention (95% CI)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

MODULES = [
    "src/lmrepro/data/report.py",
    "src/lmrepro/rec/report.py",
    "src/lmrepro/mta/report.py",
    "src/lmrepro/prosg/report.py",
    "src/lmrepro/edge/report.py",
    "src/lmrepro/report/claims.py",
    "src/lmrepro/stages/evaluate.py",
]

# names, citations and conventions: the only digits allowed in prose
ALLOWED = re.compile(
    # published protocol values and cited facts first (longest match wins), then names
    r"(?:T5: 0\.1|official 10|P5/TIGER use 20|22 nm, 2 MB, 64-bit words|1000x unit err|2 x hidden"
    r"|[A-Za-z]+@\d+"  # HR@10, NDCG@5
    r"|\bT5\b|RWKV-4|MiniLM-L6(?:-v2)?|all-MiniLM-L6-v2|ALBERT-base-v2|albert-base-v2|BERT|GPT-2"
    r"|arXiv \d{4}\.\d{4,5}|\b\d{4}\.\d{4,5}\b"  # paper ids
    r"|section \d+|Table \d+|papers\.md section \d+"
    r"|95% (?:CI|paired|Wilson|intervals?)|\b95%"  # the CI convention
    r"|\bbf16\b|\bint8\b|\bfp32\b|\b8-bit\b|\bx100\b|×100"
    r"|\d+(?:\.\d+)? b/cell|\bb/cell\b"
    r"|\bISSCC \d{4}\b|\b2014\b|\b45 nm\b|\b22 nm\b|\bLPDDR4\b|NVSim|NVMExplorer"
    r"|\bd_model\b|\bd_ff\b|h\d\b|#\d"
    r"|Amazon 2014 5-core|T5-base|T5-small|[Ss]tage [12]\b|score x 100|mm\^2|> 0\b|observed effect 0"
    r"|\bP5\b|3-way|[Ss]tage-[12]\b|\bF1\b"
    r")"
)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def typed_numbers(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    found = []
    spec_ids = {id(n.format_spec) for n in ast.walk(tree) if isinstance(n, ast.FormattedValue) and n.format_spec}
    spec_parts = {id(c) for n in ast.walk(tree) if id(n) in spec_ids for c in ast.walk(n)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docs or id(node) in spec_parts:
            continue
        text = node.value
        if len(text) < 12 or " " not in text:  # keys, paths, column names, format pieces: not prose
            continue
        rest = ALLOWED.sub("", text)
        rest = re.sub(r"[\w./-]*\.(?:png|json|md|parquet|yaml|py|csv)\b", "", rest)  # file names
        rest = re.sub(r"\{[^}]*\}", "", rest)
        if re.search(r"\d", rest):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text.strip()[:120]!r}")
    return found


@pytest.mark.parametrize("module", MODULES)
def test_report_prose_has_no_hand_typed_numbers(module):
    assert typed_numbers(REPO / module) == []


def test_the_check_catches_a_typed_number(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def render(m):\n    return f"accuracy {m:.2f}, measured once at 0.46 while building"\n')
    good = tmp_path / "good.py"
    good.write_text('def render(m):\n    return f"test HR@10 {m:.4f} with a 95% CI, see arXiv 2310.17488"\n')
    import tests.report.test_no_typed_numbers as me

    old = me.REPO
    me.REPO = tmp_path
    try:
        assert len(typed_numbers(bad)) == 1 and typed_numbers(good) == []
    finally:
        me.REPO = old
