"""The examples MTA trains and evaluates on: a seeded subsample of the NLU table, tokenized
once into a ragged store that every method and the feature cache index by row number.

Why one store for all tasks and splits: the cache and the naive path then share the same
row ids, so "cached == uncached" compares the very same examples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lmrepro.errors import LmreproError

ALL_TASKS = ("sst2", "trec", "subj", "cr", "mpqa", "mr", "cola", "sick", "msrp")
REQUIRED_COLUMNS = ("task", "split", "text_a", "text_b", "label")


@dataclass(frozen=True)
class DataConfig:
    tasks: tuple[str, ...] = ALL_TASKS  # the paper's nine tasks
    n_train: int = 400  # training rows per task of the shared comparison (every method trains on these)
    n_test: int = 300  # test examples per task (above a split's size = the whole official test split)
    n_valid: int = 100  # validation examples per task: every learning rate and epoch is chosen on them (selection.py)
    curve: tuple[int, ...] = ()  # learning-curve sizes (training rows per task) for the cheap methods
    max_len: int = 64  # tokens per example incl. specials; most sentences here are shorter
    seed: int = 0  # subsample seed, fixed across training seeds so seeds vary only the model

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "curve", tuple(int(n) for n in self.curve))
        if any(n < 1 for n in self.curve):
            raise LmreproError(f"mta data.curve sizes must be >= 1, got {list(self.curve)}")
        if not self.tasks:
            raise LmreproError("mta data.tasks is empty")
        if self.n_train < 1 or self.n_test < 1 or self.n_valid < 1:
            raise LmreproError("mta data.n_train, data.n_valid and data.n_test must be >= 1")
        if self.max_len < 8:
            raise LmreproError(f"mta data.max_len must be >= 8, got {self.max_len}")


SPLITS = ("train", "valid", "test")
COLUMNS = ("task", "split", "text_a", "text_b", "label", "n_labels", "source_row", "rank")


def train_needed(cfg: DataConfig) -> int:
    """Training rows per task the store must hold: the comparison's and the curve's largest."""
    return max((cfg.n_train, *cfg.curve))


def select_examples(table: pd.DataFrame, cfg: DataConfig, where: str = "NLU table") -> pd.DataFrame:
    """Per task: ``train_needed(cfg)`` rows of split train, ``n_test`` of split test and
    ``n_valid`` of split valid (seeded, stable order; fewer where a split is smaller).

    ``rank`` is a row's place in its task/split's seeded draw: the ``n`` rows of rank < n are
    the n-row subsample, so the learning-curve sizes are nested (192 rows are inside the
    1,000) and every method of the comparison reads the same ``n_train`` rows
    (``methods.Task.from_examples``). The draw is the one the fixed-size subsample used, so
    rank < 192 are the rows an n_train = 192 run trained on.

    Why valid is drawn last with its own stream: the train and test subsamples (and their
    row numbers within a task) stay what they were before validation was added.

    Returns columns ``COLUMNS``.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise LmreproError(f"{where}: missing column(s) {missing}")
    parts = []
    for t_i, task in enumerate(cfg.tasks):
        rows = table[table["task"] == task]
        if rows.empty:
            raise LmreproError(f"{where}: no rows for task {task!r} (column 'task')")
        n_labels = int(rows["label"].max()) + 1
        sizes = (("train", train_needed(cfg)), ("test", cfg.n_test), ("valid", cfg.n_valid))
        for s_i, (split, n) in enumerate(sizes):
            part = rows[rows["split"] == split]
            if part.empty:
                raise LmreproError(f"{where}: task {task!r} has no rows with split {split!r}")
            rng = np.random.default_rng([cfg.seed, t_i, s_i])
            drawn = rng.permutation(len(part))[: min(n, len(part))]
            order = np.argsort(drawn, kind="stable")
            picked = part.iloc[drawn[order]].copy()
            picked["source_row"] = picked.index.to_numpy()
            picked["rank"] = order
            picked["n_labels"] = n_labels
            parts.append(picked)
    out = pd.concat(parts, ignore_index=True)
    return out[list(COLUMNS)]


@dataclass
class Encoded:
    """Ragged token store: example i has tokens ``ids[offsets[i]:offsets[i+1]]``."""

    ids: np.ndarray  # [T] int64 token ids, all examples concatenated
    types: np.ndarray  # [T] int64 segment ids (0 = text_a, 1 = text_b)
    offsets: np.ndarray  # [N + 1] int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def digest(self) -> str:
        """Content digest of the tokens: the data half of the feature-cache key."""
        h = hashlib.sha256()
        for arr in (self.ids, self.types, self.offsets):
            h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
        return h.hexdigest()

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Right-padded (input_ids, attention_mask, token_type_ids), each [B, S_max]."""
        lens = self.lengths()[rows]
        width = int(lens.max())
        ids = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for j, (r, n) in enumerate(zip(rows, lens)):
            a, b = self.offsets[r], self.offsets[r + 1]
            ids[j, :n] = self.ids[a:b]
            types[j, :n] = self.types[a:b]
            mask[j, :n] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"ids": torch.from_numpy(self.ids), "types": torch.from_numpy(self.types),
                "offsets": torch.from_numpy(self.offsets)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "Encoded":
        return cls(*(tensors[k].numpy().astype(np.int64) for k in ("ids", "types", "offsets")))


def encode(examples: pd.DataFrame, tokenizer, max_len: int) -> Encoded:
    """Tokenize text_a (and text_b where present) with truncation to ``max_len``."""
    ids: list[list[int]] = [[] for _ in range(len(examples))]
    types: list[list[int]] = [[] for _ in range(len(examples))]
    has_b = examples["text_b"].notna().to_numpy()
    for pair in (False, True):
        rows = np.flatnonzero(has_b == pair)
        if len(rows) == 0:
            continue
        a = examples["text_a"].iloc[rows].astype(str).tolist()
        b = examples["text_b"].iloc[rows].astype(str).tolist() if pair else None
        enc = tokenizer(a, b, truncation=True, max_length=max_len, return_token_type_ids=True)
        for r, i, t in zip(rows, enc["input_ids"], enc["token_type_ids"]):
            ids[r], types[r] = i, t
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Encoded(np.concatenate([np.asarray(x, dtype=np.int64) for x in ids]),
                   np.concatenate([np.asarray(x, dtype=np.int64) for x in types]), offsets)


def task_rows(examples: pd.DataFrame, split: str) -> dict[str, np.ndarray]:
    """Row numbers of each task's ``split`` examples, in store order."""
    if split not in SPLITS:
        raise LmreproError(f"unknown split {split!r}; expected one of {SPLITS}")
    sel = examples[examples["split"] == split]
    return {t: g.index.to_numpy() for t, g in sel.groupby("task", sort=False)}


def n_labels(examples: pd.DataFrame) -> dict[str, int]:
    """{task: number of labels}, in the order the tasks appear."""
    first = examples.drop_duplicates("task")
    return dict(zip(first["task"], first["n_labels"].astype(int)))
