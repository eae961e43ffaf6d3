"""A small byte-level BPE trained here on the corpus plus the task text.

Why trained here: no pretrained RNN-like LM (or its tokenizer) may be fetched, and a
small vocabulary keeps the embedding and output layers cheap on CPU. Digits are split
one per token so a number is always spelled the same way and exact match is a token
comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from lmrepro.errors import LmreproError
from lmrepro.io import atomic_path

PAD = "<pad>"
END = "<end>"  # ends every answer; greedy decoding stops on it


@dataclass(frozen=True)
class TokenizerConfig:
    vocab_size: int = 512  # small: the LM is tiny and digits/keys are spelled out anyway
    min_frequency: int = 2  # ignore merges seen once (noise in a 5 MB corpus)


def train_tokenizer(texts: Iterable[str], cfg: TokenizerConfig) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=[PAD, END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def save_tokenizer(tok: Tokenizer, path: Path) -> None:
    with atomic_path(path) as tmp:
        tok.save(str(tmp))


def load_tokenizer(path: Path) -> Tokenizer:
    if not Path(path).is_file():
        raise LmreproError(f"{path}: tokenizer file not found")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises plain Exception on bad JSON
        raise LmreproError(f"{path}: not a tokenizers JSON file ({err})") from err
    for special in (PAD, END):
        if tok.token_to_id(special) is None:
            raise LmreproError(f"{path}: tokenizer lacks the special token {special}")
    return tok


def task_texts(examples) -> list[str]:
    """The task strings (prompt, query, answer) the tokenizer should see besides the corpus."""
    return (examples["prompt"] + examples["query"] + " " + examples["answer"]).tolist()
