from pathlib import Path

import pytest

from lmrepro.data.nlu import LABEL_NAMES, NluConfig, build_nlu, build_task, counts, read_label_sentence
from lmrepro.data.schemas import NluExamples
from lmrepro.errors import LmreproError
from lmrepro.io import validate

CFG = NluConfig(tasks=tuple(LABEL_NAMES), seed=13, valid_fraction=0.1, test_fraction=0.1)


@pytest.fixture(scope="module")
def table(shared_data):
    return validate(build_nlu(shared_data / "nlu", CFG), NluExamples, "nlu")


def test_official_split_sizes(table):
    c = counts(table).set_index(["task", "split"])["examples"]
    assert (c["sst2", "train"], c["sst2", "valid"], c["sst2", "test"]) == (6920, 872, 1821)
    assert (c["sick", "train"], c["sick", "valid"], c["sick", "test"]) == (4500, 500, 4927)
    assert (c["msrp", "train"], c["msrp", "valid"], c["msrp", "test"]) == (3576, 500, 1725)
    assert c["trec", "test"] == 500 and c["trec", "train"] + c["trec", "valid"] == 5452
    assert c["cola", "test"] == 527 + 516 and c["cola", "train"] + c["cola", "valid"] == 8551
    assert sum(c["subj", s] for s in ("train", "valid", "test")) == 10000


def test_pairs_have_text_b_and_singles_do_not(table):
    pairs = table["task"].isin(["sick", "msrp"])
    assert table.loc[pairs, "text_b"].notna().all()
    assert table.loc[~pairs, "text_b"].isna().all()


def test_stratified_split_is_seeded_and_disjoint(shared_data):
    a = build_task("mr", shared_data / "nlu", CFG)
    b = build_task("mr", shared_data / "nlu", CFG)
    assert a.equals(b)
    other = build_task("mr", shared_data / "nlu", NluConfig(CFG.tasks, 14, 0.1, 0.1))
    assert set(a.loc[a.split == "test", "text_a"]) != set(other.loc[other.split == "test", "text_a"])
    texts = {s: set(a.loc[a.split == s, "text_a"]) for s in ("train", "valid", "test")}
    # MR has a handful of duplicate sentences; splits are disjoint up to those
    assert len(texts["train"] & texts["test"]) < 10
    shares = a.groupby("split")["label"].mean()
    assert (shares - 0.5).abs().max() < 0.01  # stratified: balance kept in every split


def test_label_names_follow_labels(table):
    trec = table[table.task == "trec"]
    assert (trec.loc[trec.label == 2, "label_name"] == "ABBR").all()
    train_valid = trec[trec.split != "test"]
    assert (train_valid.label_name == "ABBR").sum() == 86  # published TREC-6 train count
    sick = table[table.task == "sick"]
    assert set(zip(sick.label, sick.label_name)) == {(0, "ENTAILMENT"), (1, "NEUTRAL"), (2, "CONTRADICTION")}


def test_malformed_line_is_named(tmp_path):
    f = tmp_path / "x.all"
    f.write_text("1 fine sentence\nnolabel here\n")
    with pytest.raises(LmreproError, match=r"x.all:2"):
        read_label_sentence(f, 2)


def test_unknown_task_is_named(shared_data):
    with pytest.raises(LmreproError, match="unknown task 'glue'"):
        build_task("glue", shared_data / "nlu", CFG)
