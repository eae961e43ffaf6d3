"""Nine NLU tasks into one table (task, split, text_a, text_b, label, label_name).

Official splits are used where they exist. Tasks without one (Subj, CR, MPQA, MR) get a
seeded stratified train/valid/test split; tasks with a train/test split only (TREC) or
without public test labels (CoLA: GLUE's dev = in-domain + out-of-domain dev is the test
set here) carve a stratified validation set from train. The recipe is ``data.nlu``.

Every file is read strictly (:mod:`lmrepro.data.rawtext`): a declared encoding per file
(UTF-8, or latin-1 for the three harvardnlp files that carry latin-1 accents; UTF-8 is
never silently retried as latin-1, which would accept corrupt bytes), NUL bytes and
binary control bytes rejected, every line checked for its columns and its label checked
against the task's label set, with the file and line named. Per format:

* ``<label> <sentence>`` files (SST-2, TREC, Subj, CR, MPQA, MR): a UTF-8 BOM is accepted
  for UTF-8 files and rejected for latin-1 ones (it means the file was re-encoded); CRLF
  accepted (the line is stripped anyway); the last line must end with a newline, as in
  every official file, because a sentence cut short is otherwise undetectable.
* SICK and MSRP (tab-separated with a header): BOM and CRLF accepted (the official MSRP
  train/test files carry a BOM, MSRP and the SICK test file CRLF); every row must have the
  header's number of columns; the last line must end with a newline (all official files do).
* CoLA (four tab-separated columns, no header): BOM and CRLF accepted; the official
  ``out_of_domain_dev.tsv`` has no newline after its last line, so one cannot be
  required: a file cut inside the last sentence is caught only by the sha256 manifest.
  A cut anywhere else leaves fewer than four columns or a bad label and is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from lmrepro.data.rawtext import read_text
from lmrepro.errors import LmreproError

LABEL_NAMES: dict[str, list[str]] = {
    "sst2": ["negative", "positive"],
    # harvardnlp's TREC files number the coarse classes in this order (checked against
    # the published class counts: ABBR 86, DESC 1162, ENTY 1250, HUM 1223, LOC 835, NUM 896).
    "trec": ["DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"],
    "subj": ["subjective", "objective"],
    "cr": ["negative", "positive"],
    "mpqa": ["negative", "positive"],
    "mr": ["negative", "positive"],
    "cola": ["unacceptable", "acceptable"],
    "sick": ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"],
    "msrp": ["not_paraphrase", "paraphrase"],
}


@dataclass(frozen=True)
class NluConfig:
    tasks: tuple[str, ...]  # which tasks to build (all nine by default)
    seed: int  # seed of the stratified splits
    valid_fraction: float  # share of train carved out as validation where no official one exists
    test_fraction: float  # share held out as test for tasks without any official split


# harvardnlp files whose accents are latin-1 bytes; every other file is UTF-8.
LATIN1_FILES = frozenset({"rt-polarity.all", "subj.all", "TREC.train.all"})
_LABEL = re.compile(r"[0-9]+")
_LABEL_SENTENCE = "'<label> <sentence>' lines"


def _encoding(path: Path) -> str:
    return "latin-1" if Path(path).name in LATIN1_FILES else "utf-8"


def read_label_sentence(path: Path, n_labels: int, encoding: str | None = None) -> pd.DataFrame:
    """``<label> <sentence>`` per line (harvardnlp format); labels must be 0..n_labels-1.

    A few CR lines carry a label and no sentence; they hold nothing to learn from and
    are dropped.
    """
    text = read_text(path, encoding or _encoding(path), _LABEL_SENTENCE, require_final_newline=True)
    labels, texts = [], []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): texts hold \x0c and \x85
        if not line.strip():
            continue
        head, _, sentence = line.strip().partition(" ")
        if not _LABEL.fullmatch(head):
            raise LmreproError(f"{path}:{lineno}: expected {_LABEL_SENTENCE}, got {line[:60]!r}")
        if int(head) >= n_labels:
            raise LmreproError(f"{path}:{lineno}: label {head} is not one of 0..{n_labels - 1}")
        if not sentence.strip():
            continue
        labels.append(int(head))
        texts.append(sentence.strip())
    if not labels:
        raise LmreproError(f"{path}: no examples (expected {_LABEL_SENTENCE})")
    return pd.DataFrame({"text_a": texts, "text_b": None, "label": labels})


def _read_tsv(path: Path, columns: list[str] | None, require_final_newline: bool, what: str) -> tuple[pd.DataFrame, list[int]]:
    """(rows as strings, line number of each row); no quoting; ``columns`` None = header line.

    Every non-blank row must have exactly the header's number of fields: a wrong delimiter
    or a line cut short shows up here, with its line number.
    """
    text = read_text(path, "utf-8", what, require_final_newline=require_final_newline)
    lines = text.split("\n")
    start = 0
    if columns is None:
        columns = lines[0].split("\t")
        start = 1
        if len(columns) < 2:
            raise LmreproError(f"{path}:1: expected a tab-separated header line ({what}), got {lines[0][:60]!r}")
    rows, numbers = [], []
    for lineno, line in enumerate(lines[start:], start=start + 1):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise LmreproError(
                f"{path}:{lineno}: expected {len(columns)} tab-separated columns ({what}), got {len(fields)}:"
                f" wrong delimiter or truncated line? {line[:60]!r}"
            )
        rows.append(fields)
        numbers.append(lineno)
    if not rows:
        raise LmreproError(f"{path}: no data rows (expected {what})")
    return pd.DataFrame(rows, columns=columns, dtype=str), numbers


def _require(df: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise LmreproError(f"{path}:1: header lacks column(s) {missing} (has {list(df.columns)})")


def _labels(values: pd.Series, allowed: list[str], path: Path, column: str, lines: list[int]) -> pd.Series:
    """Index of each value in ``allowed``; the first unknown value is reported with its line."""
    known = values.isin(allowed)
    if not known.all():
        pos = int(np.flatnonzero(~known.to_numpy())[0])
        raise LmreproError(f"{path}:{lines[pos]}: column {column} has {values.iloc[pos][:30]!r}, expected one of {allowed}")
    return values.map({v: i for i, v in enumerate(allowed)}).astype(np.int64)


def read_cola(path: Path) -> pd.DataFrame:
    what = "CoLA rows 'source<TAB>label<TAB>mark<TAB>sentence'"
    df, lines = _read_tsv(path, ["source", "label", "mark", "sentence"], False, what)
    return pd.DataFrame({"text_a": df["sentence"].str.strip(), "text_b": None, "label": _labels(df["label"], ["0", "1"], path, "label", lines)})


def read_sick(path: Path) -> pd.DataFrame:
    df, lines = _read_tsv(path, None, True, "SICK tab-separated file with a header")
    _require(df, ["sentence_A", "sentence_B", "entailment_judgment"], path)
    label = _labels(df["entailment_judgment"], LABEL_NAMES["sick"], path, "entailment_judgment", lines)
    return pd.DataFrame({"text_a": df["sentence_A"], "text_b": df["sentence_B"], "label": label})


def read_msrp(path: Path) -> pd.DataFrame:
    df, lines = _read_tsv(path, None, True, "MSRP tab-separated file with a header")
    _require(df, ["Quality", "#1 String", "#2 String"], path)
    label = _labels(df["Quality"], ["0", "1"], path, "Quality", lines)
    return pd.DataFrame({"text_a": df["#1 String"].str.strip(), "text_b": df["#2 String"].str.strip(), "label": label})


def _split(df: pd.DataFrame, fraction: float, seed: int, where: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        keep, held = train_test_split(df, test_size=fraction, random_state=seed, stratify=df["label"])
    except ValueError as err:  # too few examples (per label) for a stratified split
        raise LmreproError(f"{where}: cannot make a stratified split of {len(df)} examples: {err}") from err
    return keep.sort_index(), held.sort_index()


def build_task(task: str, raw: Path, cfg: NluConfig) -> pd.DataFrame:
    """All splits of one task; raw is the fetched nlu folder (data/raw/nlu)."""
    parts: dict[str, pd.DataFrame]
    if task == "sst2":
        parts = {s: read_label_sentence(raw / "sst2" / f"stsa.binary.{f}", 2) for s, f in [("train", "train"), ("valid", "dev"), ("test", "test")]}
    elif task == "trec":
        train, valid = _split(read_label_sentence(raw / "trec" / "TREC.train.all", 6), cfg.valid_fraction, cfg.seed, raw / "trec" / "TREC.train.all")
        parts = {"train": train, "valid": valid, "test": read_label_sentence(raw / "trec" / "TREC.test.all", 6)}
    elif task in ("subj", "cr", "mpqa", "mr"):
        files = {"subj": "subj/subj.all", "cr": "cr/custrev.all", "mpqa": "mpqa/mpqa.all", "mr": "mr/rt-polarity.all"}
        full = read_label_sentence(raw / files[task], len(LABEL_NAMES[task]))
        rest, test = _split(full, cfg.test_fraction, cfg.seed, raw / files[task])
        train, valid = _split(rest, cfg.valid_fraction / (1 - cfg.test_fraction), cfg.seed, raw / files[task])
        parts = {"train": train, "valid": valid, "test": test}
    elif task == "cola":
        train, valid = _split(read_cola(raw / "cola" / "in_domain_train.tsv"), cfg.valid_fraction, cfg.seed, raw / "cola" / "in_domain_train.tsv")
        test = pd.concat([read_cola(raw / "cola" / "in_domain_dev.tsv"), read_cola(raw / "cola" / "out_of_domain_dev.tsv")], ignore_index=True)
        parts = {"train": train, "valid": valid, "test": test}
    elif task == "sick":
        parts = {s: read_sick(raw / "sick" / f"SICK_{f}.txt") for s, f in [("train", "train"), ("valid", "trial"), ("test", "test_annotated")]}
    elif task == "msrp":
        parts = {s: read_msrp(raw / "msrp" / f"msr-para-{f}.tsv") for s, f in [("train", "train"), ("valid", "val"), ("test", "test")]}
    else:
        raise LmreproError(f"data.nlu.tasks: unknown task {task!r} (known: {', '.join(LABEL_NAMES)})")
    names = LABEL_NAMES[task]
    frames = []
    for split, df in parts.items():
        bad = sorted(set(df["label"]) - set(range(len(names))))
        if bad:
            raise LmreproError(f"{raw / task}: task {task} split {split} has unknown label(s) {bad}")
        frames.append(df.assign(task=task, split=split, label_name=df["label"].map(lambda i: names[i])))
    out = pd.concat(frames, ignore_index=True)
    return out[["task", "split", "text_a", "text_b", "label", "label_name"]]


def build_nlu(raw: Path, cfg: NluConfig) -> pd.DataFrame:
    table = pd.concat([build_task(t, raw, cfg) for t in cfg.tasks], ignore_index=True)
    table["label"] = table["label"].astype(np.int64)
    return table


def counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per task and split: examples and the share of the majority label (label balance)."""
    grouped = table.groupby(["task", "split"], sort=False)
    out = grouped.size().rename("examples").to_frame()
    out["labels"] = grouped["label"].nunique()
    out["majority_share"] = grouped["label"].agg(lambda s: s.value_counts(normalize=True).iloc[0]).round(4)
    return out.reset_index()
