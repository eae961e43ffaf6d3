"""The English text (Tiny Shakespeare, six Austen novels) as documents for LM training.

Austen novels are cut into chapters at their ``CHAPTER`` headings; Shakespeare, which has
no chapters, into blocks of ``shakespeare_block_lines`` lines ending at a blank line. A
seeded share of documents per source is held out as validation, so held-out text is
never seen in training, even in part.

Files are read strictly (:mod:`lmrepro.data.rawtext`): UTF-8 only (a corrupt byte is an
error, not a replacement character in the training text), no NUL bytes, a UTF-8 BOM
dropped and CRLF read as LF (neither changes the words; the chapter regex and the block
splitter then see the same text as for LF files). A final newline is not required: the
official Austen files have none, so a file cut inside its last line cannot be told from a
complete one; the sha256 manifest covers that case. An empty file, a source with too few
documents to hold out a validation share, or a novel without chapter headings is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro.data.rawtext import read_text
from lmrepro.errors import LmreproError

_CHAPTER = re.compile(r"^\s*chapter\s+[ivxlc0-9]+\.?\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class CorpusConfig:
    seed: int  # seed of the document-level held-out split
    valid_fraction: float  # share of each source's documents held out
    shakespeare_block_lines: int  # Shakespeare has no chapters: documents of about this many lines


def split_chapters(text: str) -> list[str]:
    starts = [m.start() for m in _CHAPTER.finditer(text)]
    if not starts:
        return [text.strip()] if text.strip() else []
    bounds = starts + [len(text)]
    return [text[a:b].strip() for a, b in zip(bounds[:-1], bounds[1:]) if text[a:b].strip()]


def split_blocks(text: str, block_lines: int) -> list[str]:
    docs, current = [], []
    for line in text.splitlines():
        current.append(line)
        if len(current) >= block_lines and not line.strip():
            docs.append("\n".join(current).strip())
            current = []
    if "\n".join(current).strip():
        docs.append("\n".join(current).strip())
    return docs


def build_corpus(raw: Path, cfg: CorpusConfig) -> pd.DataFrame:
    sources: list[tuple[str, list[str]]] = []
    shakespeare = raw / "tinyshakespeare.txt"
    text = read_text(shakespeare, "utf-8", "plain UTF-8 text")
    sources.append(("tinyshakespeare", split_blocks(text, cfg.shakespeare_block_lines)))
    novels = sorted((raw / "austen").glob("austen_*.txt"))
    if not novels:
        raise LmreproError(f"{raw / 'austen'}: no austen_*.txt files")
    for novel in novels:
        chapters = split_chapters(read_text(novel, "utf-8", "a novel in plain UTF-8 text"))
        if len(chapters) < 2:
            raise LmreproError(f"{novel}: found {len(chapters)} chapter heading(s); expected a novel cut into chapters")
        sources.append((novel.stem, chapters))
    rng = np.random.default_rng(cfg.seed)
    rows = []
    for (name, docs), path in zip(sources, [shakespeare, *novels]):
        n_valid = max(1, int(round(len(docs) * cfg.valid_fraction)))
        if n_valid >= len(docs):
            raise LmreproError(
                f"{path}: {len(docs)} document(s); holding out {n_valid} for validation would leave none to train on"
            )
        valid = set(rng.choice(len(docs), size=n_valid, replace=False).tolist())
        for i, doc in enumerate(docs):
            rows.append((name, f"{name}-{i:04d}", doc, "valid" if i in valid else "train"))
    return pd.DataFrame(rows, columns=["source", "doc", "text", "split"])
