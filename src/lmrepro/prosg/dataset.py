"""The constructed prompt-forgetting set: prompt (facts or a rule), filler, query, answer.

Why this shape: ProSG's abstract says the authors "construct a dataset" in which the
prompt carries information or instructions that a recurrent LM forgets during long
generation. Their set is not public, so we build our own reading of it:

- ``kv``: key-value facts ("tovi likes garden. baru likes letter."); the query asks
  what one name likes.
- ``passkey``: a word to keep ("The passkey is honour."); the query asks for it.
- ``format``: an output-format rule ("begin every answer with the word river"); the
  query asks to repeat a digit, and only the rule says how to write the answer.

Answers are frequent corpus words (one BPE token each at the default vocabulary) rather
than multi-digit numbers: a CPU-sized RNN trained for minutes cannot learn to copy
ordered digit strings at all, and then nothing could be forgotten. Names are made-up
words, so a name's value can only come from the prompt.

Between prompt and query sits ``distance`` words of real English text (the LM corpus),
so forgetting shows as accuracy falling with distance. The kv names are drawn from
per-split pools, so no test question asks about a name seen in training. Answer words
(kv values, passkeys, format tags) come from one pool shared by the splits: which word
is right is only said by the prompt (a guess is right 1 time in 80), and a model trained
for minutes on 48 passkeys learns to emit those 48 words rather than to copy, so with
split answer pools nothing is recalled even at distance 0 (measured: 0.00 on passkey and
format, 0.42 on kv whose values were shared). No example text (prompt, filler, query)
appears in two splits. Answers are exact strings: scoring is exact match, nothing fuzzy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.prosg.schemas import KINDS, SPLITS

_CONSONANTS = list("bdfgklmnprstvz")
_VOWELS = list("aeiou")


@dataclass(frozen=True)
class DatasetConfig:
    seed: int = 0  # everything below is drawn from this one seed
    kinds: list[str] = field(default_factory=lambda: list(KINDS))  # all three prompt kinds by default
    distances: list[int] = field(default_factory=lambda: [0, 8, 16, 32, 64])  # filler words (~2.5 tokens each); 0 = none
    n_train: int = 200  # examples per kind x distance; enough for pre-training to learn the format
    n_valid: int = 20  # per kind x distance; only used for monitoring
    n_test: int = 60  # per kind x distance; Wilson CI half-width about +-0.12 per cell, +-0.07 pooled over kinds
    facts_per_prompt: int = 2  # kv facts per prompt: one distractor makes the query select, not just copy
    vocabulary_size: int = 240  # most frequent corpus words (4-9 letters) used as values, passkeys and tags
    key_fractions: list[float] = field(default_factory=lambda: [0.6, 0.2, 0.2])  # train/valid/test share of the kv name pool

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS]
        if bad or not self.kinds:
            raise LmreproError(f"prosg.data.kinds: unknown kinds {bad} (choose from {KINDS})")
        if not self.distances or min(self.distances) < 0:
            raise LmreproError("prosg.data.distances: need at least one distance, all >= 0")
        if len(self.key_fractions) != 3 or min(self.key_fractions) <= 0:
            raise LmreproError("prosg.data.key_fractions: need three positive shares (train, valid, test)")
        if self.facts_per_prompt < 1:
            raise LmreproError("prosg.data.facts_per_prompt: must be >= 1")
        if self.vocabulary_size < 30:
            raise LmreproError("prosg.data.vocabulary_size: need >= 30 words (three pools, three splits)")


# ----------------------------------------------------------------------------- keys


def _pseudo_words(syllables: int) -> list[str]:
    """All consonant-vowel words of ``syllables`` syllables, in a fixed order."""
    units = [c + v for c in _CONSONANTS for v in _VOWELS]
    words = units
    for _ in range(syllables - 1):
        words = [w + u for w in words for u in units]
    return words


def _split_pool(pool: list[str], rng: np.random.Generator, fractions: list[float]) -> dict[str, list[str]]:
    """Shuffle a key pool and cut it into disjoint train/valid/test pools."""
    order = rng.permutation(len(pool))
    shares = np.asarray(fractions, dtype=float) / sum(fractions)
    cuts = np.floor(np.cumsum(shares) * len(pool)).astype(int)
    parts = np.split(order, cuts[:-1])
    return {split: [pool[i] for i in part] for split, part in zip(SPLITS, parts)}


# ----------------------------------------------------------------------------- filler


class FillerSource:
    """Runs of consecutive words from the corpus documents of one corpus split."""

    def __init__(self, corpus: pd.DataFrame, split: str):
        missing = {"text", "split"} - set(corpus.columns)
        if missing:
            raise LmreproError(f"text corpus: missing columns {sorted(missing)}")
        texts = corpus.loc[corpus["split"] == split, "text"].tolist()
        self.words = [w for t in texts for w in t.split()]
        if not self.words:
            raise LmreproError(f"text corpus: no words in split {split!r}")

    def frequent_words(self, n: int) -> list[str]:
        """The n most frequent lowercase alphabetic words of 4-9 letters (ties alphabetical)."""
        counts = pd.Series([w for w in self.words if w.isalpha() and w.islower() and 4 <= len(w) <= 9]).value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) < n:
            raise LmreproError(f"text corpus: only {len(ranked)} distinct words for prosg.data.vocabulary_size={n}")
        return [w for w, _ in ranked[:n]]

    def draw(self, rng: np.random.Generator, n: int) -> str:
        if n == 0:
            return ""
        if n > len(self.words):
            raise LmreproError(f"text corpus: filler of {n} words asked, corpus split has {len(self.words)}")
        start = int(rng.integers(0, len(self.words) - n + 1))
        return " ".join(self.words[start : start + n]) + "\n"


# ----------------------------------------------------------------------------- prompts


def _kv(rng, names, values, cfg):
    picked = rng.choice(len(names), size=cfg.facts_per_prompt, replace=False)
    chosen = rng.choice(len(values), size=cfg.facts_per_prompt, replace=False)
    facts = [(names[i], values[j]) for i, j in zip(picked, chosen)]
    asked = int(rng.integers(0, len(facts)))
    body = " ".join(f"{k} likes {v}." for k, v in facts)
    name, value = facts[asked]
    return name, f"Facts: {body}\n", f"Question: what does {name} like?\nA:", value


def _passkey(rng, words):
    word = words[int(rng.integers(0, len(words)))]
    return word, f"The passkey is {word}. Remember it.\n", "Question: what is the passkey?\nA:", word


def _format(rng, tags):
    tag = tags[int(rng.integers(0, len(tags)))]
    digit = str(int(rng.integers(0, 10)))
    return (
        tag,
        f"Rule: begin every answer with the word {tag}.\n",
        f"Question: repeat {digit}.\nA:",
        f"{tag} {digit}",
    )


def generate(cfg: DatasetConfig, corpus: pd.DataFrame) -> pd.DataFrame:
    """All splits; deterministic in (cfg, corpus). Column ``key`` is ``kind:key``."""
    rng = np.random.default_rng(cfg.seed)
    fillers = {"train": FillerSource(corpus, "train"), "valid": FillerSource(corpus, "valid")}
    words = fillers["train"].frequent_words(cfg.vocabulary_size)
    order = rng.permutation(len(words))
    values, passkeys, tags = ([words[i] for i in part] for part in np.array_split(order, 3))
    names = _split_pool(_pseudo_words(2), rng, cfg.key_fractions)
    counts = {"train": cfg.n_train, "valid": cfg.n_valid, "test": cfg.n_test}
    rows = []
    for split in SPLITS:
        filler = fillers["train" if split == "train" else "valid"]
        for kind in cfg.kinds:
            for distance in cfg.distances:
                for i in range(counts[split]):
                    if kind == "kv":
                        key, prompt, query, answer = _kv(rng, names[split], values, cfg)
                    elif kind == "passkey":
                        key, prompt, query, answer = _passkey(rng, passkeys)
                    else:
                        key, prompt, query, answer = _format(rng, tags)
                    rows.append(
                        {
                            "uid": f"{split}-{kind}-{distance}-{i:05d}",
                            "split": split,
                            "kind": kind,
                            "key": f"{kind}:{key}",
                            "distance": distance,
                            "prompt": prompt,
                            "filler": filler.draw(rng, distance),
                            "query": query,
                            "answer": answer,
                        }
                    )
    return pd.DataFrame(rows)


def exact_match(prediction: str, answer: str) -> bool:
    """The only scoring rule: the generated string (up to the end token) equals the answer."""
    return prediction.strip() == answer
