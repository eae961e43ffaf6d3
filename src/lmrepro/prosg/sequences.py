"""Examples -> padded token batches with the positions ProSG and scoring need.

Layout of one row (right-padded; the model is causal so padding never changes earlier
positions):

    prompt | filler | query | " " + answer | <end> | <pad>...

``update_from`` is the prompt length: the ProSG update is generated from the state there
and applies from that position on. ``labels`` is -100 except at the positions that
predict the answer tokens and the end token, so exact match under greedy decoding is
"argmax equals label at every labelled position" (greedy decoding of a causal model
reproduces the gold string iff each next-token argmax given the gold prefix is gold).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from tokenizers import Tokenizer

from lmrepro.prosg.tokenizer import END, PAD


@dataclass
class Batch:
    ids: torch.Tensor  # (B, T) token ids, right-padded
    labels: torch.Tensor  # (B, T) next-token targets at answer positions, else -100
    update_from: torch.Tensor  # (B,) first position that sees the ProSG update
    prompt_ids: torch.Tensor  # (B, P) the prompt alone, right-padded
    prompt_len: torch.Tensor  # (B,)

    def __len__(self) -> int:
        return self.ids.shape[0]

    def to(self, device) -> "Batch":
        """The same batch on ``device`` (built on CPU: tokenizing is host work)."""
        return Batch(*(t.to(device) for t in (self.ids, self.labels, self.update_from, self.prompt_ids, self.prompt_len)))


class Encoder:
    """Tokenizes segments separately (so boundaries are exact) and caches them."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self.pad = tok.token_to_id(PAD)
        self.end = tok.token_to_id(END)
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        if text not in self._cache:
            self._cache[text] = self.tok.encode(text).ids
        return self._cache[text]

    def example(self, row, repeat_prompt: bool = False) -> tuple[list[int], int, int, int]:
        """ids, prompt length, answer start, answer length (answer + end)."""
        prompt = self.encode(row.prompt)
        context = prompt + self.encode(row.filler)
        if repeat_prompt:
            context = context + prompt
        context = context + self.encode(row.query)
        answer = self.encode(" " + row.answer) + [self.end]  # "A: word": the space joins the word's token
        return context + answer, len(prompt), len(context), len(answer)

    def batch(self, rows: pd.DataFrame, repeat_prompt: bool = False, device="cpu") -> Batch:
        encoded = [self.example(r, repeat_prompt) for r in rows.itertuples(index=False)]
        prompts = [self.encode(r.prompt) for r in rows.itertuples(index=False)]
        T = max(len(e[0]) for e in encoded)
        P = max(len(p) for p in prompts)
        ids = torch.full((len(encoded), T), self.pad, dtype=torch.long)
        labels = torch.full((len(encoded), T), -100, dtype=torch.long)
        prompt_ids = torch.full((len(encoded), P), self.pad, dtype=torch.long)
        for i, ((seq, _, start, n), prompt) in enumerate(zip(encoded, prompts)):
            ids[i, : len(seq)] = torch.tensor(seq)
            labels[i, start - 1 : start - 1 + n] = torch.tensor(seq[start : start + n])
            prompt_ids[i, : len(prompt)] = torch.tensor(prompt)
        return Batch(
            ids=ids,
            labels=labels,
            update_from=torch.tensor([e[1] for e in encoded]),
            prompt_ids=prompt_ids,
            prompt_len=torch.tensor([len(p) for p in prompts]),
        ).to(device)

    def lm_chunks(self, texts: list[str], length: int) -> torch.Tensor:
        """Corpus text cut into (N, length) token windows for plain LM training."""
        stream: list[int] = []
        for t in texts:
            stream.extend(self.tok.encode(t).ids)
        n = len(stream) // length
        return torch.tensor(stream[: n * length], dtype=torch.long).view(n, length)


def answer_correct(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) bool: every labelled position's argmax equals its label (exact match)."""
    mask = labels != -100  # (B, T)
    hit = (logits.argmax(-1) == labels) | ~mask
    return hit.all(dim=1).cpu()


def answer_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over answer positions (the end token included)."""
    return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
