import pytest

from lmrepro.data.corpus import CorpusConfig, build_corpus, split_chapters
from lmrepro.data.schemas import TextCorpus
from lmrepro.errors import LmreproError
from lmrepro.io import validate

CFG = CorpusConfig(seed=7, valid_fraction=0.1, shakespeare_block_lines=100)


def test_every_source_is_cut_and_held_out_by_document(shared_data):
    table = validate(build_corpus(shared_data / "text", CFG), TextCorpus, "corpus")
    per_source = table.groupby("source")["doc"].count()
    assert set(per_source.index) == {"tinyshakespeare", *(f"austen_{n}" for n in (
        "emma", "mansfieldpark", "northangerabbey", "persuasion", "prideprejudice", "sensesensibility"))}
    assert per_source.min() >= 20  # every novel cut into chapters (both heading styles)
    chars = table.assign(n=table.text.str.len()).groupby("split")["n"].sum()
    assert 0.05 < chars["valid"] / chars.sum() < 0.2
    assert table.equals(build_corpus(shared_data / "text", CFG))  # seeded


def test_chapter_headings_in_both_styles():
    text = "Title\n\nCHAPTER I\n\nOne.\n\nChapter 2\n\nTwo.\n"
    assert split_chapters(text) == ["CHAPTER I\n\nOne.", "Chapter 2\n\nTwo."]


def test_novel_without_chapters_is_an_error(tmp_path):
    (tmp_path / "austen").mkdir()
    (tmp_path / "tinyshakespeare.txt").write_text("A:\nline\n\n" * 50)
    (tmp_path / "austen" / "austen_x.txt").write_text("no headings at all\n")
    with pytest.raises(LmreproError, match="austen_x.txt: found 1 chapter"):
        build_corpus(tmp_path, CFG)
