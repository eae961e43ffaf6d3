import pandas as pd
import pytest

from lmrepro.errors import LmreproError
from lmrepro.io import read_table, write_table
from lmrepro.prosg.dataset import DatasetConfig, exact_match, generate
from lmrepro.prosg.schemas import ProsgExamples


def test_deterministic_per_seed(corpus, small_cfg, examples):
    again = generate(small_cfg, corpus)
    pd.testing.assert_frame_equal(examples, again)
    other = generate(DatasetConfig(**{**small_cfg.__dict__, "seed": 4}), corpus)
    assert not other["answer"].equals(examples["answer"])


def test_counts_and_distances(examples, small_cfg):
    per_cell = examples.groupby(["split", "kind", "distance"]).size()
    assert per_cell.loc["train"].eq(small_cfg.n_train).all()
    assert per_cell.loc["test"].eq(small_cfg.n_test).all()
    lengths = examples["filler"].str.split().str.len().fillna(0)
    assert (lengths == examples["distance"]).all()


def test_kv_names_disjoint_answers_shared(examples):
    kv = examples[examples["kind"] == "kv"]
    by_split = {s: set(g["key"]) for s, g in kv.groupby("split")}
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["valid"]
    assert not by_split["valid"] & by_split["test"]
    # answer words come from one pool: test passkeys are words the model was trained to emit
    words = {s: set(g["answer"]) for s, g in examples[examples["kind"] == "passkey"].groupby("split")}
    assert words["test"] & words["train"]


def test_answers_checkable_from_prompt_and_query(examples):
    """Every answer is determined by the prompt (+ the number in the query for 'format')."""
    for row in examples.itertuples():
        if row.kind == "kv":
            name = row.key.split(":", 1)[1]
            assert f"{name} likes {row.answer}." in row.prompt and f"does {name} like?" in row.query
        elif row.kind == "passkey":
            assert f"The passkey is {row.answer}." in row.prompt
        else:
            tag, digit = row.answer.split(" ")
            assert f"with the word {tag}." in row.prompt and f"repeat {digit}." in row.query
        assert exact_match(f" {row.answer}\n", row.answer)
        assert not exact_match(row.answer + "0", row.answer)


def test_filler_comes_from_split_text(corpus, examples):
    train_words = set(" ".join(corpus.loc[corpus.split == "train", "text"]).split())
    filler = examples.loc[(examples.split == "train") & (examples.distance > 0), "filler"]
    assert set(" ".join(filler).split()) <= train_words


def test_schema_roundtrip_and_leak_check(tmp_path, examples):
    path = tmp_path / "prosg.parquet"
    write_table(examples, path, ProsgExamples)
    pd.testing.assert_frame_equal(read_table(path, ProsgExamples), examples, check_dtype=False)
    leaked = examples.copy()
    kv = leaked.index[leaked["kind"] == "kv"]
    leaked.loc[kv[0], "key"] = leaked.loc[(leaked["split"] == "test") & (leaked["kind"] == "kv"), "key"].iloc[0]
    with pytest.raises(LmreproError):
        write_table(leaked, tmp_path / "bad.parquet", ProsgExamples)
    assert not (tmp_path / "bad.parquet").exists()


def test_bad_config_names_key(corpus):
    with pytest.raises(LmreproError, match="prosg.data.kinds"):
        DatasetConfig(kinds=["nope"])
    with pytest.raises(LmreproError, match="text corpus"):
        generate(DatasetConfig(distances=[10**7], n_train=1, n_valid=1, n_test=1), corpus)
    with pytest.raises(LmreproError, match="vocabulary_size"):
        generate(DatasetConfig(vocabulary_size=10**6, n_train=1, n_valid=1, n_test=1), corpus)
