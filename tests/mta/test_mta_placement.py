"""Adapter placement chosen on validation (mta/placement.py): each candidate trains on its own
cache of the blocks below it, no test row is read, and the choice follows the scores."""

import numpy as np
import pytest

from lmrepro.errors import LmreproError
from lmrepro.mta import methods, placement
from lmrepro.mta.data import DataConfig, encode, select_examples
from lmrepro.mta.mixture import MixtureConfig
from lmrepro.mta.train import TrainConfig

MIX = MixtureConfig(blocks=1, bottleneck=8, n_shared=1, temperature=0.1)


def test_choose_follows_the_scores_and_ties_go_to_fewer_blocks():
    assert placement.choose({1: 0.70, 2: 0.72, 3: 0.71}) == 2
    assert placement.choose({1: 0.73, 2: 0.72, 3: 0.71}) == 1
    assert placement.choose({3: 0.72, 1: 0.72, 2: 0.70}) == 1
    with pytest.raises(LmreproError):
        placement.choose({})
    for bad in ((), (0, 1), (1, 1)):
        with pytest.raises(LmreproError, match="candidates"):
            placement.PlacementConfig(candidates=bad)


def test_search_trains_every_candidate_and_reads_no_test_row(backbone, fresh_encoder, tiny_table, monkeypatch):
    _, tok = backbone
    examples = select_examples(tiny_table, DataConfig(tasks=("sst2", "msrp"), n_train=8, n_test=4, n_valid=4,
                                                      max_len=16))
    encoded = encode(examples, tok, 16)
    data = methods.Task.from_examples(examples)
    cached_rows = []
    real = placement.compute_features

    def spy(model, enc, key, *args, rows=None, **kwargs):
        cached_rows.append((model.first_adapted, set(int(r) for r in rows)))
        return real(model, enc, key, *args, rows=rows, **kwargs)

    monkeypatch.setattr(placement, "compute_features", spy)
    record = placement.search(fresh_encoder, encoded, data, MIX, TrainConfig(epochs=2, batch_size=4, lr=1e-2), 5,
                              (2, 1))
    assert "test" not in data.requested
    test = {int(r) for rows in data.splits["test"].values() for r in rows}
    n_blocks = len(fresh_encoder.encoder.layer)
    assert [k for k, _ in cached_rows] == [n_blocks - 1, n_blocks - 2]  # one cache per candidate, below its adapters
    assert all(rows and not rows & test for _, rows in cached_rows)
    assert set(record["candidates"]) == {"1", "2"}
    assert record["candidates"]["2"]["trainable"] > record["candidates"]["1"]["trainable"]
    scores = {int(k): v["valid"] for k, v in record["candidates"].items()}
    assert record["chosen"] == placement.choose(scores)
    with pytest.raises(LmreproError, match="exceed"):
        placement.search(fresh_encoder, encoded, data, MIX, TrainConfig(epochs=1, batch_size=4), 5, (n_blocks + 1,))


@pytest.mark.parametrize("chosen,says_differs", [(1, False), (3, True)])
def test_the_report_says_whether_the_comparison_used_the_choice(chosen, says_differs):
    record = {"seed": 2022, "lr": 0.001, "chosen": chosen,
              "candidates": {"1": {"valid": 0.70}, "2": {"valid": 0.71}, "3": {"valid": 0.72 if chosen == 3 else 0.69}}}
    text = placement.describe(record, used=1)
    assert f"Validation chooses the top {chosen} block(s)" in text and "uses the top 1" in text
    assert ("do not use the placement validation prefers (+2.0 validation points)" in text) == says_differs


class _Ctx:
    """The two things pipeline.blocks_used reads: the params and the --placement argument."""

    def __init__(self, mixture: dict, placement_path=None) -> None:
        self.mixture = mixture
        self.args = type("Args", (), {"placement": placement_path})()

    def section(self, dotted: str):
        return self.mixture if dotted == "mta.mixture" else self.mixture[dotted.rsplit(".", 1)[1]]


def _record(chosen: int = 2) -> dict:
    return {"seed": 1, "lr": 0.001, "chosen": chosen, "candidates": {"1": {"valid": 0.7}, "2": {"valid": 0.8}}}


@pytest.mark.parametrize("chosen", [1, 2])
def test_chosen_blocks_follow_the_placement_record(tmp_path, chosen):
    from lmrepro import io
    from lmrepro.mta import pipeline

    path = tmp_path / "placement.json"
    io.write_json(_record(chosen), path)
    mix = {"blocks": "chosen", "bottleneck": 8, "n_shared": 1, "temperature": 0.1, "gate_init_own": 0.5,
           "dropout": 0.1}
    assert pipeline.blocks_used(_Ctx(mix, path)) == chosen
    assert pipeline.mixture(_Ctx(mix, path)) == MixtureConfig(**{**mix, "blocks": chosen})
    # a number is used as given, with or without a record
    assert pipeline.blocks_used(_Ctx({**mix, "blocks": 3}, path)) == 3
    assert pipeline.blocks_used(_Ctx({**mix, "blocks": 3})) == 3


def test_chosen_without_a_usable_record_is_refused(tmp_path):
    from lmrepro import io
    from lmrepro.mta import pipeline

    mix = {"blocks": "chosen"}
    with pytest.raises(LmreproError, match="--placement"):
        pipeline.blocks_used(_Ctx(mix))
    with pytest.raises(LmreproError, match="not found"):
        pipeline.blocks_used(_Ctx(mix, tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    io.write_json({"candidates": {"1": {}}}, bad)
    with pytest.raises(LmreproError, match=f"{bad}.*chosen"):
        pipeline.blocks_used(_Ctx(mix, bad))
    io.write_json({**_record(), "chosen": 3}, bad)
    with pytest.raises(LmreproError, match="not among the trained candidates"):
        pipeline.blocks_used(_Ctx(mix, bad))


def test_the_report_says_when_the_comparison_trains_at_the_choice():
    record = {**_record(2), "blocks_setting": "chosen"}
    text = placement.describe(record, used=2)
    assert "trains at the validation choice (mta.mixture.blocks: chosen)" in text
    assert "do not use" not in text
    fixed = placement.describe({**_record(2), "blocks_setting": 1}, used=1)
    assert "do not use the placement validation prefers" in fixed and "trains at the validation choice" not in fixed


def test_placement_stage_selects_the_rows_the_feature_stage_stores(tiny_table, backbone, tmp_path):
    """The placement stage subsamples and tokenizes the tasks table itself (it runs before
    mta_features when the cache is split at its choice): the same mta.data must give the same
    rows and tokens as the stored examples the other stages read."""
    from lmrepro import io
    from lmrepro.mta.schemas import Examples

    _, tok = backbone
    cfg = DataConfig(tasks=("sst2", "msrp"), n_train=8, n_test=4, n_valid=4, max_len=16)
    in_memory = select_examples(tiny_table, cfg)
    io.write_table(in_memory, tmp_path / "examples.parquet", Examples)  # what mta_features stores
    stored = io.read_table(tmp_path / "examples.parquet", Examples)
    assert encode(in_memory, tok, 16).digest() == encode(stored, tok, 16).digest()
    a, b = methods.Task.from_examples(in_memory, 4), methods.Task.from_examples(stored, 4)
    for split in ("train", "valid", "test"):
        assert {t: r.tolist() for t, r in a.splits[split].items()} == {t: r.tolist() for t, r in b.splits[split].items()}


@pytest.mark.parametrize("ft_valid, verdict", [(0.79, "still below it."), (0.715, "level with or above it.")])
def test_the_report_weighs_the_unused_placement_against_full_fine_tuning(ft_valid, verdict):
    """When the table does not run at the preferred placement, the paragraph says how far that
    placement moves the adapters on validation next to multi-task full fine-tuning's score;
    either side can come out."""
    from lmrepro.mta import report

    record = {"seed": 7, "lr": 0.001, "chosen": 3,
              "candidates": {"1": {"valid": 0.70}, "2": {"valid": 0.71}, "3": {"valid": 0.72}}}
    runs = {"multi_ft": [{"seed": 7, "choices": [{"unit": "all", "valid": ft_valid}]},
                         {"seed": 8, "choices": [{"unit": "all", "valid": 0.10}]}]}
    text = report.placement_text({"placement": record, "blocks": 1}, runs)
    assert f"scores {100 * ft_valid:.1f} on the same validation rows (seed 7)" in text
    assert "from 70.0 to 72.0" in text and text.endswith(verdict)
    assert "For scale" not in report.placement_text({"placement": record, "blocks": 1}, {})
    assert "For scale" not in report.placement_text({"placement": {**record, "chosen": 1}, "blocks": 1}, runs)
