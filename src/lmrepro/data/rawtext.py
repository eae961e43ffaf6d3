"""Structural checks shared by the raw-data parsers: bytes -> checked lines of text.

The sha256 manifest protects the official files, but a user's own dataset or a
re-manifested file reaches the parsers unchecked. Every parser therefore reads its file
through :func:`read_lines`, which turns the ways a text file goes wrong into an
:class:`LmreproError` naming the file and line instead of a traceback deep in pandas or
scikit-learn, or a silently wrong table:

* missing or empty file (nothing but whitespace);
* binary content: a NUL byte (never part of any of our text formats), or, for formats
  read as latin-1 (where every byte decodes), any C0 control character other than tab,
  line feed, carriage return and form feed;
* bytes that are not valid in the file's declared encoding (UTF-8 files are decoded
  strictly, never with a fallback that would accept corrupt bytes);
* a UTF-8 byte-order mark is dropped for UTF-8 formats (Windows tools add it, the content
  is the same) but rejected for latin-1 formats, where it means the file was re-encoded
  and its accented characters would decode to the wrong text;
* CRLF line ends are accepted and read as LF (the official MSRP and SICK test files use
  them); a lone CR is a line break in no format we read and is rejected;
* optionally, a missing line end after the last line, which is how a file cut short by
  an interrupted copy looks (only for formats whose official files all end with one).
"""

from __future__ import annotations

import re
from pathlib import Path

from lmrepro.errors import LmreproError

UTF8_BOM = b"\xef\xbb\xbf"
_LATIN1_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _line_of(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a byte offset."""
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def read_text(path: Path, encoding: str, what: str, *, require_final_newline: bool = False) -> str:
    """The checked, decoded text of ``path`` with LF line ends (see the module docstring).

    ``what`` names the expected format in error messages (e.g. "'<label> <sentence>' lines").
    """
    path = Path(path)
    if not path.is_file():
        raise LmreproError(f"{path}: file not found (expected {what})")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise LmreproError(f"{path}: cannot read ({err.strerror})") from err
    if raw.startswith(UTF8_BOM):
        if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
            raise LmreproError(
                f"{path}:1: starts with a UTF-8 byte-order mark but this file is expected in {encoding};"
                " it was re-encoded, so its non-ASCII characters would be misread"
            )
        raw = raw[len(UTF8_BOM):]
    if not raw.strip():
        raise LmreproError(f"{path}: file is empty (expected {what})")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = _line_of(raw, nul)
        raise LmreproError(f"{path}:{line}: NUL byte at column {col}: binary or corrupt file (expected {what})")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line, col = _line_of(raw, err.start)
        raise LmreproError(
            f"{path}:{line}: byte 0x{raw[err.start]:02x} at column {col} is not valid {encoding}:"
            f" corrupt file or wrong encoding (expected {what} in {encoding})"
        ) from err
    if encoding.lower().replace("_", "-") in ("latin-1", "latin1", "iso-8859-1"):
        bad = _LATIN1_BINARY.search(text)
        if bad:
            line, col = _line_of(raw, bad.start())
            raise LmreproError(
                f"{path}:{line}: control byte 0x{ord(bad.group()):02x} at column {col}: binary or corrupt file"
                f" (expected {what})"
            )
    text = text.replace("\r\n", "\n")
    lone_cr = text.find("\r")
    if lone_cr >= 0:
        line = text.count("\n", 0, lone_cr) + 1
        raise LmreproError(f"{path}:{line}: carriage return inside a line (expected LF or CRLF line ends, {what})")
    if require_final_newline and not text.endswith("\n"):
        line = text.count("\n") + 1
        raise LmreproError(
            f"{path}:{line}: last line has no line end: the file looks truncated (expected {what},"
            " every line ending in a newline)"
        )
    return text
