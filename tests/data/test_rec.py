import pytest

from lmrepro.config import load_params
from lmrepro.data.catalog import rec_sources
from lmrepro.data.rec import leave_one_out, read_sequences, stats
from lmrepro.data.schemas import RecInteractions
from lmrepro.errors import LmreproError
from lmrepro.io import validate


from tests.conftest import REPO

SOURCES = rec_sources(load_params(REPO / "params.yaml")["data"]["rec"]["sources"])


@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_statistics_equal_the_published_ones(shared_data, dataset):
    entry = SOURCES[dataset]
    table = leave_one_out(read_sequences(shared_data / "rec" / entry.file))
    validate(table, RecInteractions, dataset)
    s = stats(table)
    assert (s.users, s.items, s.interactions) == (entry.published.users, entry.published.items, entry.published.interactions)
    counts = table["split"].value_counts()
    assert counts["test"] == counts["valid"] == s.users  # one of each per user


def test_leave_one_out_keeps_order_and_splits_last_two():
    table = leave_one_out({7: [5, 6, 8, 9], 3: [1, 2, 4]})
    user7 = table[table.user == 7]
    assert user7["item"].tolist() == [5, 6, 8, 9]
    assert user7["position"].tolist() == [0, 1, 2, 3]
    assert user7["split"].tolist() == ["train", "train", "valid", "test"]
    assert table[table.user == 3]["split"].tolist() == ["train", "valid", "test"]


def test_bad_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "x.txt"
    bad.write_text("1 2 3 4\n2 5 x 7\n")
    with pytest.raises(LmreproError, match=r"x.txt:2"):
        read_sequences(bad)
    short = tmp_path / "s.txt"
    short.write_text("1 2 3\n")
    with pytest.raises(LmreproError, match=r"s.txt:1: user 1 has 2 items"):
        read_sequences(short)
