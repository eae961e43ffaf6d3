"""Every raw-data parser under damaged input: a clean parse with the right content, or an
LmreproError that names the file (and the line), never a traceback or a silently wrong table.

Samples are the first lines of the real files (plus one line with non-ASCII text where the
format is UTF-8), normalized to LF without BOM. Hypothesis then damages them: truncation
at any byte, emptying, binary (NUL) bytes, corrupt bytes, a wrong delimiter, a wrong
encoding (UTF-16, or cp1252 for a UTF-8 file), a BOM and CRLF line ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmrepro.data import nlu, rec
from lmrepro.data.corpus import CorpusConfig, build_corpus
from lmrepro.edge import tech
from lmrepro.errors import LmreproError
from tests.faults import first_line

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _sample(path: Path, n_lines: int, need_non_ascii: bool) -> bytes:
    """The first n_lines of a real file (+ its first non-ASCII line), as LF without a BOM."""
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")
    lines = raw.split(b"\n")
    picked = lines[:n_lines]
    if need_non_ascii:
        picked.append(next(line for line in lines[n_lines:] if any(b >= 0x80 for b in line)))
    return b"\n".join(picked) + b"\n"


@dataclass
class Format:
    name: str
    filename: str  # the real file name (the NLU encoding is chosen by name)
    sample: bytes
    encoding: str
    parse: Callable[[Path], Any]  # -> comparable content
    is_prefix: Callable[[Any, Any], bool]  # content of a truncated file vs the full sample's
    delimiter: tuple[bytes, bytes] | None  # (real, wrong) field separator


def _records(df: pd.DataFrame) -> list[tuple]:
    return list(df.itertuples(index=False, name=None))


def _exact_prefix(got, full) -> bool:
    return len(got) <= len(full) and got == full[: len(got)]


def _prefix_last_cut(got, full) -> bool:
    """Rows equal, except that the last one's text may be cut (a format without a final newline)."""
    if not got or len(got) > len(full) or got[:-1] != full[: len(got) - 1]:
        return False
    (text, *rest), (full_text, *full_rest) = got[-1], full[len(got) - 1]
    return rest == full_rest and full_text.startswith(text)


def _subset(got, full) -> bool:
    return set(got[0]) <= set(full[0]) and set(got[1]) <= set(full[1])


def _tech(path: Path):
    table, failed = tech.parse_csv(path, "SRAM")
    return _records(table.drop(columns="source_file").round(9)), _records(failed.drop(columns="source_file"))


def _corpus(path: Path):
    table = build_corpus(path.parent, CorpusConfig(seed=0, valid_fraction=0.2, shakespeare_block_lines=4))
    return table[table.source == "tinyshakespeare"]["text"].tolist()


def _corpus_prefix(got, full) -> bool:
    whole = "\n\n".join(full)
    return all(doc in whole for doc in got)


def _formats(data: Path) -> list[Format]:
    n = data / "nlu"

    def label_sentence(task):
        return lambda p: _records(nlu.read_label_sentence(p, len(nlu.LABEL_NAMES[task]))[["label", "text_a"]])

    return [
        Format("rec", "Beauty.txt", _sample(data / "rec" / "Beauty.txt", 8, False), "utf-8",
               lambda p: list(rec.read_sequences(p).items()), _exact_prefix, (b" ", b",")),
        Format("sst2", "stsa.binary.train", _sample(n / "sst2" / "stsa.binary.train", 6, True), "utf-8",
               label_sentence("sst2"), _exact_prefix, (b" ", b"\t")),
        Format("mr_latin1", "rt-polarity.all", _sample(n / "mr" / "rt-polarity.all", 6, True), "latin-1",
               label_sentence("mr"), _exact_prefix, (b" ", b"\t")),
        Format("trec", "TREC.test.all", _sample(n / "trec" / "TREC.test.all", 6, False), "utf-8",
               label_sentence("trec"), _exact_prefix, (b" ", b",")),
        Format("cola", "in_domain_train.tsv", _sample(n / "cola" / "in_domain_train.tsv", 6, True), "utf-8",
               lambda p: _records(nlu.read_cola(p)[["text_a", "label"]]), _prefix_last_cut, (b"\t", b",")),
        Format("sick", "SICK_train.txt", _sample(n / "sick" / "SICK_train.txt", 6, False), "utf-8",
               lambda p: _records(nlu.read_sick(p)), lambda g, f: _exact_prefix(g, f), (b"\t", b",")),
        Format("msrp", "msr-para-train.tsv", _sample(n / "msrp" / "msr-para-train.tsv", 6, True), "utf-8",
               lambda p: _records(nlu.read_msrp(p)), _exact_prefix, (b"\t", b";")),
        Format("nvmexplorer", "SRAM_1BPC-combined.csv",
               _sample(data / "energy" / "nvmexplorer" / "SRAM_1BPC-combined.csv", 13, False), "utf-8",
               _tech, _subset, (b",", b";")),
        Format("corpus", "tinyshakespeare.txt", _sample(data / "text" / "tinyshakespeare.txt", 40, False), "utf-8",
               _corpus, _corpus_prefix, None),
    ]


@st.composite
def damaged(draw, fmt: Format) -> tuple[str, bytes]:
    """(kind, bytes) of one damaged variant of the sample."""
    s = fmt.sample
    kinds = ["truncated", "empty", "binary", "corrupt", "wrong_encoding", "bom", "crlf"]
    if fmt.delimiter:
        kinds.append("wrong_delimiter")
    kind = draw(st.sampled_from(kinds))
    at = draw(st.integers(0, len(s) - 1))
    if kind == "truncated":
        return kind, s[:at]
    if kind == "empty":
        return kind, draw(st.sampled_from([b"", b"\n", b"  \n\n", b"\r\n"]))
    if kind == "binary":
        junk = draw(st.binary(max_size=12))
        cut = draw(st.integers(0, len(junk)))
        return kind, s[:at] + junk[:cut] + b"\x00" + junk[cut:] + s[at:]
    if kind == "corrupt":  # invalid UTF-8, or a control byte in a latin-1 file
        bad = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80"] if fmt.encoding == "utf-8" else [b"\x01", b"\x1b", b"\x7f"]
        return kind, s[:at] + draw(st.sampled_from(bad)) + s[at:]
    if kind == "wrong_encoding":
        text = s.decode(fmt.encoding)
        choices = ["utf-16", "utf-16-le"]
        if fmt.encoding == "utf-8" and not text.encode("cp1252", errors="replace").isascii():
            choices.append("cp1252")  # the Windows code page: its accents are invalid UTF-8
        return kind, text.encode(draw(st.sampled_from(choices)), errors="replace")
    if kind == "bom":
        return kind, b"\xef\xbb\xbf" + s
    if kind == "crlf":
        return kind, s.replace(b"\n", b"\r\n")
    real, wrong = fmt.delimiter
    return kind, s.replace(real, wrong)


FAIL = {"empty", "binary", "corrupt", "wrong_encoding", "wrong_delimiter"}


def _check(fmt: Format, kind: str, data: bytes, path: Path, expected) -> str | None:
    """Assert the outcome is right for this kind; returns the error message, or None if it parsed."""
    path.write_bytes(data)
    must_parse = kind == "crlf" or (kind == "bom" and fmt.encoding == "utf-8")
    try:
        got = fmt.parse(path)
    except LmreproError as err:
        msg = str(err)
        assert msg.startswith(str(path)), f"{kind}: message does not name the file: {msg}"
        assert not must_parse, f"{kind} variant of a valid {fmt.name} file rejected: {msg}"
        if kind in FAIL - {"empty"} | {"bom"}:
            assert re.match(re.escape(str(path)) + r":\d+: ", msg), f"{kind}: no line in: {msg}"
        return msg
    assert kind not in FAIL, f"{kind} variant of {fmt.name} accepted silently: {got!r}"[:2000]
    assert not (kind == "bom" and fmt.encoding != "utf-8"), "BOM in a latin-1 file accepted"
    if must_parse:
        assert got == expected, f"{kind} variant parsed to different content"
    else:
        assert fmt.is_prefix(got, expected), f"truncated {fmt.name} file parsed to content that is not a prefix"
    return None


FORMATS = [
    "rec", "sst2", "mr_latin1", "trec", "cola", "sick", "msrp", "nvmexplorer", "corpus"]


@pytest.fixture(scope="module")
def formats(shared_data) -> dict[str, Format]:
    return {f.name: f for f in _formats(shared_data)}


@pytest.fixture
def workdir(formats, shared_data, tmp_path) -> Path:
    """A folder where the corpus parser also finds the (real) Austen novels it needs."""
    austen = tmp_path / "austen"
    austen.mkdir()
    # two real chapters of one novel are enough for build_corpus's novel check
    text = (shared_data / "text" / "austen" / "austen_persuasion.txt").read_text(encoding="utf-8")
    heads = [m.start() for m in re.finditer(r"(?im)^\s*chapter\s+[ivxlc0-9]+\.?\s*$", text)]
    (austen / "austen_persuasion.txt").write_text(text[: heads[10]], encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", FORMATS)
@SETTINGS
@given(data=st.data())
def test_damaged_input_parses_cleanly_or_fails_naming_file_and_line(formats, workdir, name, data):
    fmt = formats[name]
    path = workdir / fmt.filename
    path.write_bytes(fmt.sample)
    expected = fmt.parse(path)
    assert expected, f"{name}: the undamaged sample parsed to nothing"
    kind, damaged_bytes = data.draw(damaged(fmt), label="variant")
    _check(fmt, kind, damaged_bytes, path, expected)


# the fault table's words for each pinned damage kind: (fault, how it is injected)
DAMAGE = {
    "truncated": ("raw file truncated mid-line", "cut 3 bytes into its last line"),
    "empty": ("empty raw file", "0-byte file"),
    "binary": ("binary bytes in a raw file", "NUL and control bytes inserted mid-file"),
    "corrupt": ("corrupt bytes in a raw file", "one invalid byte mid-file (0xff; 0x01 in the latin-1 file)"),
    "wrong_encoding": ("raw file in the wrong encoding", "re-saved as UTF-16"),
    "bom": ("byte-order mark on a raw file", "UTF-8 BOM prepended"),
    "crlf": ("CRLF line ends in a raw file", "every LF replaced by CRLF"),
    "wrong_delimiter": ("malformed raw file (wrong field separator)", "separator replaced, e.g. tab by comma"),
}


def _record(record_fault, kind: str, results: list[tuple[str, str | None]]) -> None:
    """One fault-table row per damage kind, from each format's observed outcome."""
    rejected = [name for name, msg in results if msg is not None]
    parsed = [name for name, msg in results if msg is None]
    saw = f"{len(rejected)}/{len(results)} readers raised LmreproError naming the file"
    example = next((msg for _, msg in results if msg is not None), None)
    if example is not None:
        saw += f", e.g. `{first_line(example)}`"
    if parsed:
        saw += f"; {len(parsed)} parsed it ({', '.join(parsed)})"
    if not parsed:
        lost = "no (nothing parsed, so no silently wrong table)"
    elif kind in ("crlf", "bom"):
        lost = f"no (content of {', '.join(parsed)} compared equal to the undamaged file's)"
    else:
        lost = f"only the cut line (content of {', '.join(parsed)} checked to be a prefix of the undamaged file's)"
    fault, how = DAMAGE[kind]
    record_fault(fault, f"{how}, in each of the {len(results)} raw formats ({', '.join(n for n, _ in results)}); "
                 "read by the stage's parser", saw, lost)


def test_every_damage_kind_is_exercised_for_every_format(formats, workdir, record_fault):
    """The property test draws at random; this pins each kind once per format (deterministic)."""
    outcomes: dict[str, list[tuple[str, str | None]]] = {}
    for fmt in formats.values():
        path = workdir / fmt.filename
        path.write_bytes(fmt.sample)
        expected = fmt.parse(path)
        s = fmt.sample
        mid = len(s) // 2
        variants = {
            "truncated": s[: s.rindex(b"\n", 0, len(s) - 1) + 1 + 3],  # 3 bytes into the last line
            "empty": b"",
            "binary": s[:mid] + b"\x00\x01\x02" + s[mid:],
            "corrupt": s[:mid] + (b"\xff" if fmt.encoding == "utf-8" else b"\x01") + s[mid:],
            "wrong_encoding": s.decode(fmt.encoding).encode("utf-16"),
            "bom": b"\xef\xbb\xbf" + s,
            "crlf": s.replace(b"\n", b"\r\n"),
        }
        if fmt.delimiter:
            variants["wrong_delimiter"] = s.replace(*fmt.delimiter)
        for kind, blob in variants.items():
            outcomes.setdefault(kind, []).append((fmt.name, _check(fmt, kind, blob, path, expected)))
    for kind, results in outcomes.items():
        _record(record_fault, kind, results)


def test_known_failures_from_the_issue(tmp_path):
    """Issue 20's reproducers: empty TSV, empty label file, CoLA with commas, corrupt bytes."""
    empty = tmp_path / "SICK_train.txt"
    empty.write_bytes(b"")
    with pytest.raises(LmreproError, match=re.escape(f"{empty}: file is empty")):
        nlu.read_sick(empty)
    labels = tmp_path / "stsa.binary.dev"
    labels.write_bytes(b"")
    with pytest.raises(LmreproError, match=re.escape(f"{labels}: file is empty")):
        nlu.read_label_sentence(labels, 2)
    cola = tmp_path / "in_domain_dev.tsv"
    cola.write_text("gj04,1,,The sailors rode the breeze clear of the rocks.\n")
    with pytest.raises(LmreproError, match=re.escape(f"{cola}:1: expected 4 tab-separated columns")):
        nlu.read_cola(cola)
    labels.write_bytes(b"1 a fine film\n0 a dull \xff film\n")
    with pytest.raises(LmreproError, match=re.escape(f"{labels}:2: byte 0xff at column 10 is not valid utf-8")):
        nlu.read_label_sentence(labels, 2)
    labels.write_bytes(b"1 a fine film\n0 a dull fi")
    with pytest.raises(LmreproError, match=re.escape(f"{labels}:2: last line has no line end")):
        nlu.read_label_sentence(labels, 2)
    labels.write_bytes(b"1 a fine film\n2 a dull film\n")
    with pytest.raises(LmreproError, match=re.escape(f"{labels}:2: label 2 is not one of 0..1")):
        nlu.read_label_sentence(labels, 2)


def test_too_small_a_task_for_a_stratified_split_is_a_clear_error(tmp_path):
    (tmp_path / "mr").mkdir()
    (tmp_path / "mr" / "rt-polarity.all").write_bytes(b"1 good\n0 bad\n1 fine\n")
    cfg = nlu.NluConfig(tasks=("mr",), seed=0, valid_fraction=0.1, test_fraction=0.1)
    with pytest.raises(LmreproError, match=re.escape(f"{tmp_path / 'mr' / 'rt-polarity.all'}: cannot make a stratified split")):
        nlu.build_task("mr", tmp_path, cfg)
