"""Fixtures: the real (small) MiniLM backbone, tiny text frames, a fast thread setting."""

import os

import pandas as pd
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def backbone():
    from lmrepro.mta.backbone import DEFAULT_BACKBONE, load_backbone

    return load_backbone(DEFAULT_BACKBONE)


@pytest.fixture()
def fresh_encoder(backbone):
    """A private copy of the encoder (tests mutate requires_grad and weights)."""
    import copy

    return copy.deepcopy(backbone[0])


@pytest.fixture(scope="session")
def tiny_table():
    """Two tasks, a single-sentence one and a pair one, train/valid/test splits."""
    pos = ["a wonderful film", "great acting and story", "i loved it", "superb and moving", "truly delightful",
           "a joy to watch", "brilliant work", "charming and warm"]
    neg = ["a dull mess", "boring and slow", "i hated it", "awful script", "truly terrible", "a waste of time",
           "clumsy work", "cold and lifeless"]
    rows = []
    for i, (p, n) in enumerate(zip(pos, neg)):
        split = "train" if i < 5 else "valid" if i == 5 else "test"
        rows.append(("sst2", split, p, None, 1))
        rows.append(("sst2", split, n, None, 0))
        rows.append(("msrp", split, p, p + " indeed", 1))
        rows.append(("msrp", split, p, n, 0))
    df = pd.DataFrame(rows, columns=["task", "split", "text_a", "text_b", "label"])
    return df
