"""The claims summary: verdicts from every track's wording, and the README kept in sync."""

from pathlib import Path

import pytest

from lmrepro.errors import LmreproError
from lmrepro.evaluate import summary

RESULTS = """# lmrepro results

- a bullet before any section: supported (ignored)

## Data

- 9 tasks, all with official splits.

## LightLM: collaborative indexing, deep-and-narrow generative recommender

- Deep-narrow LightLM vs wide-shallow at matched budget (direct, mean test HR@10 over indexings): 0.0300 vs 0.0200, difference within noise (2 SE = 0.0200) -> inconclusive at this scale.

## ALTER: Mixture-of-Task-Adapters (MTA)

- *MTA beats the baselines on a mixture of NLP tasks* (macro average): 8.0 points below. Verdict: **not supported** (0 of 6 baselines clearly beaten).

## ProSG: prompt synthetic gradients (Luo et al., arXiv 2311.01981)

- **Claim: an RNN-like LM forgets the prompt as the distance grows.** Base accuracy 0.83 vs 0.19: **supported**.
- **Upper bound.** Prompt repeated right before the query: 0.80.

## Edge: adapter-ALBERT on heterogeneous memory (papers.md section 4)

- MLC RRAM 3 b/cell bit errors (0.00015-0.0063): change -16.96 points. Does not survive (loss >= 3.1 points).
- Area (ours): 2.36x-5.37x smaller weight memory. Supported.
"""


def test_rows_follow_each_tracks_wording():
    rows = summary.claim_rows(RESULTS)
    assert rows == [
        ("LightLM", "Deep-narrow LightLM vs wide-shallow at matched budget (direct, mean test HR@10 over indexings)",
         "inconclusive"),
        ("ALTER", "MTA beats the baselines on a mixture of NLP tasks (macro average)", "not supported"),
        ("ProSG", "an RNN-like LM forgets the prompt as the distance grows", "supported"),
        ("Edge", "MLC RRAM 3 b/cell bit errors (0.00015-0.0063)", "does not survive"),
        ("Edge", "Area (ours)", "supported"),
    ]
    table = summary.render(RESULTS)
    assert table.startswith("| paper | claim") and "| ALTER | MTA beats" in table


def test_no_verdict_yet():
    assert "No claim has a verdict yet" in summary.render("# lmrepro results\n\n## Data\n\n- 9 tasks\n")


def test_readme_sync_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{summary.START}\nold\n{summary.END}\nafter\n")
    assert summary.sync_readme(readme, "| new |\n")
    assert readme.read_text() == f"# x\n\nbefore\n{summary.START}\n| new |\n{summary.END}\nafter\n"
    assert not summary.sync_readme(readme, "| new |\n")  # idempotent
    assert summary.readme_block(readme) == "| new |\n"
    (tmp_path / "bare.md").write_text("# no markers\n")
    with pytest.raises(LmreproError, match="markers"):
        summary.sync_readme(tmp_path / "bare.md", "x")


def test_committed_readme_shows_the_committed_summary():
    """The README's results summary is the evaluate stage's output, not typed by hand."""
    root = Path(__file__).resolve().parents[2]
    committed = root / "reports" / "summary.md"
    if not committed.is_file():
        pytest.skip("no default-profile results committed yet")
    assert summary.readme_block(root / "README.md") == committed.read_text(), (
        "README results summary is stale: run `python -m lmrepro.evaluate.summary`")
