"""Nine NLU tasks into one table (task, split, text_a, text_b, label, label_name).

Official splits are used where they exist. Tasks without one (Subj, CR, MPQA, MR) get a
seeded stratified train/valid/test split; tasks with a train/test split only (TREC) or
without public test labels (CoLA: GLUE's dev = in-domain + out-of-domain dev is the test
set here) carve a stratified validation set from train. The recipe is ``data.nlu``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

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


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise LmreproError(f"{path}: file not found")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # MR, Subj and TREC train carry latin-1 accents


def read_label_sentence(path: Path) -> pd.DataFrame:
    """``<label> <sentence>`` per line (harvardnlp format).

    A few CR lines carry a label and no sentence; they hold nothing to learn from and
    are dropped (the count is logged by the stage via ``dropped_empty``).
    """
    labels, texts = [], []
    for lineno, line in enumerate(_read_text(path).split("\n"), start=1):  # not splitlines(): texts hold \x0c and \x85
        if not line.strip():
            continue
        head, _, text = line.strip().partition(" ")
        if head.isdigit() and not text.strip():
            continue
        if not head.isdigit():
            raise LmreproError(f"{path}:{lineno}: expected '<label> <sentence>', got {line[:60]!r}")
        labels.append(int(head))
        texts.append(text.strip())
    return pd.DataFrame({"text_a": texts, "text_b": None, "label": labels})


def _read_tsv(path: Path, header: bool, names: list[str] | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise LmreproError(f"{path}: file not found")
    try:
        return pd.read_csv(
            path, sep="\t", quoting=csv.QUOTE_NONE, encoding="utf-8-sig", header=0 if header else None,
            names=names, dtype=str, keep_default_na=False,
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise LmreproError(f"{path}: cannot parse as TSV ({err})") from err


def _require(df: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise LmreproError(f"{path}: missing column(s) {missing}")


def read_cola(path: Path) -> pd.DataFrame:
    df = _read_tsv(path, header=False, names=["source", "label", "mark", "sentence"])
    return pd.DataFrame({"text_a": df["sentence"].str.strip(), "text_b": None, "label": df["label"].astype(int)})


def read_sick(path: Path) -> pd.DataFrame:
    df = _read_tsv(path, header=True)
    _require(df, ["sentence_A", "sentence_B", "entailment_judgment"], path)
    names = LABEL_NAMES["sick"]
    unknown = sorted(set(df["entailment_judgment"]) - set(names))
    if unknown:
        raise LmreproError(f"{path}: column entailment_judgment has unknown value(s) {unknown}")
    return pd.DataFrame({"text_a": df["sentence_A"], "text_b": df["sentence_B"], "label": df["entailment_judgment"].map(names.index)})


def read_msrp(path: Path) -> pd.DataFrame:
    df = _read_tsv(path, header=True)
    _require(df, ["Quality", "#1 String", "#2 String"], path)
    return pd.DataFrame({"text_a": df["#1 String"].str.strip(), "text_b": df["#2 String"].str.strip(), "label": df["Quality"].astype(int)})


def _split(df: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep, held = train_test_split(df, test_size=fraction, random_state=seed, stratify=df["label"])
    return keep.sort_index(), held.sort_index()


def build_task(task: str, raw: Path, cfg: NluConfig) -> pd.DataFrame:
    """All splits of one task; raw is the fetched nlu folder (data/raw/nlu)."""
    parts: dict[str, pd.DataFrame]
    if task == "sst2":
        parts = {s: read_label_sentence(raw / "sst2" / f"stsa.binary.{f}") for s, f in [("train", "train"), ("valid", "dev"), ("test", "test")]}
    elif task == "trec":
        train, valid = _split(read_label_sentence(raw / "trec" / "TREC.train.all"), cfg.valid_fraction, cfg.seed)
        parts = {"train": train, "valid": valid, "test": read_label_sentence(raw / "trec" / "TREC.test.all")}
    elif task in ("subj", "cr", "mpqa", "mr"):
        files = {"subj": "subj/subj.all", "cr": "cr/custrev.all", "mpqa": "mpqa/mpqa.all", "mr": "mr/rt-polarity.all"}
        full = read_label_sentence(raw / files[task])
        rest, test = _split(full, cfg.test_fraction, cfg.seed)
        train, valid = _split(rest, cfg.valid_fraction / (1 - cfg.test_fraction), cfg.seed)
        parts = {"train": train, "valid": valid, "test": test}
    elif task == "cola":
        train, valid = _split(read_cola(raw / "cola" / "in_domain_train.tsv"), cfg.valid_fraction, cfg.seed)
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
