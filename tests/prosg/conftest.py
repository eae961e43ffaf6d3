"""Shared fixtures: a small real-text corpus read straight from the raw data, a tiny
tokenizer and a tiny (float64 where exactness matters) RWKV."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from lmrepro.prosg.dataset import DatasetConfig, generate
from lmrepro.prosg.rwkv import RwkvModelConfig, build_model, freeze
from lmrepro.prosg.sequences import Encoder
from lmrepro.prosg.tokenizer import TokenizerConfig, task_texts, train_tokenizer


@pytest.fixture(scope="session")
def corpus(shared_data) -> pd.DataFrame:
    """Tiny Shakespeare cut into 200-line documents, every fifth held out."""
    lines = (shared_data / "text" / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines()[:4000]
    docs = ["\n".join(lines[i : i + 200]) for i in range(0, len(lines), 200)]
    return pd.DataFrame({"source": "tinyshakespeare", "doc": [f"d{i}" for i in range(len(docs))], "text": docs,
                         "split": ["valid" if i % 5 == 0 else "train" for i in range(len(docs))]})


@pytest.fixture(scope="session")
def small_cfg() -> DatasetConfig:
    return DatasetConfig(seed=3, distances=[0, 8, 24], n_train=6, n_valid=2, n_test=4)


@pytest.fixture(scope="session")
def examples(corpus, small_cfg) -> pd.DataFrame:
    return generate(small_cfg, corpus)


@pytest.fixture(scope="session")
def encoder(corpus, examples) -> Encoder:
    texts = corpus["text"].tolist()[:5] + task_texts(examples)
    return Encoder(train_tokenizer(texts, TokenizerConfig(vocab_size=300)))


@pytest.fixture()
def tiny_model(encoder):
    torch.manual_seed(0)
    model = build_model(RwkvModelConfig(hidden_size=16, num_layers=2, intermediate_size=32), encoder.tok.get_vocab_size())
    return freeze(model)
