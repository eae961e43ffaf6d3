"""A rec dataset is data: an entry of params data.rec.sources (file + optional published
statistics and peer rows), checked by the schema and by lmrepro.config, read by
lmrepro.data.catalog and rendered by the data section."""

import copy
import json

import pytest

from lmrepro import io
from lmrepro.config import load_params, validate_params
from lmrepro.data import report as data_report
from lmrepro.data.catalog import rec_sources, source
from lmrepro.errors import LmreproError
from tests.conftest import REPO

PARAMS = load_params(REPO / "params.yaml")


def _with_mine(params, **entry):
    p = copy.deepcopy(params)
    p["data"]["rec"]["sources"]["mine"] = {"file": "mine.txt", **entry}
    p["data"]["rec"]["datasets"].append("mine")
    p["rec"]["datasets"] = ["mine"]
    return p


def test_a_new_dataset_needs_only_params():
    p = _with_mine(PARAMS)
    validate_params(p, REPO)  # no enum anywhere: a name is enough
    mine = source(p["data"]["rec"]["sources"], "mine")
    assert mine.file == "mine.txt" and mine.published is None and mine.peers == {}


@pytest.mark.parametrize("edit,match", [
    (lambda p: p["data"]["rec"]["datasets"].append("nope"), "data.rec.datasets: 'nope' has no data.rec.sources entry"),
    (lambda p: p["rec"].__setitem__("datasets", ["toys", "other"]), "rec.datasets: 'other' is not built"),
    (lambda p: p["data"]["rec"]["sources"]["beauty"].__setitem__("file", "../x.txt"), "data.rec.sources.beauty.file"),
    (lambda p: p["data"]["rec"]["sources"]["beauty"]["peers"].__setitem__("P5", [0.1, 0.2]), "data.rec.sources.beauty.peers.P5"),
])
def test_bad_entries_are_errors_naming_the_key(edit, match):
    p = copy.deepcopy(PARAMS)
    edit(p)
    with pytest.raises(LmreproError, match=match):
        validate_params(p, REPO)


def test_unknown_source_names_the_known_ones():
    with pytest.raises(LmreproError, match="no entry 'mine' .*beauty, sports, toys"):
        source(PARAMS["data"]["rec"]["sources"], "mine")


def test_data_section_lists_a_dataset_without_published_statistics(tmp_path):
    sources = rec_sources(_with_mine(PARAMS)["data"]["rec"]["sources"])
    io.write_json({"users": 22363, "items": 12101, "interactions": 198502}, tmp_path / "reports/metrics/data/rec-beauty.json")
    io.write_json({"users": 5, "items": 7, "interactions": 30}, tmp_path / "reports/metrics/data/rec-mine.json")
    text = data_report.render(tmp_path, sources=sources)
    assert "| beauty | 22,363 | 12,101 | 198,502 | 22,363 / 12,101 / 198,502 | match |" in text
    assert "| mine | 5 | 7 | 30 | - | - |" in text
    assert text.index("| beauty |") < text.index("| mine |")  # params order
    assert json.loads((tmp_path / "reports/metrics/data/rec-mine.json").read_text())["users"] == 5
