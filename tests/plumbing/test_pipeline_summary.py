"""The invocation's summary run: unique labels when two rules run one stage module with
the same wildcards, and a summary that can never fail the pipeline or stay RUNNING."""

from __future__ import annotations

import json

from lmrepro import pipeline_summary, tracking


def _stage_run(c, experiment, invocation, wildcards, seconds):
    run = c.create_run(experiment, run_name="rec_peer", tags={
        "lmrepro.stage": "rec_peer", "lmrepro.invocation_id": invocation,
        "lmrepro.wildcards": json.dumps(wildcards, sort_keys=True)})
    c.log_metric(run.info.run_id, "stage_seconds", seconds)
    c.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def test_unique_labels_suffix_only_repeats():
    labels = pipeline_summary.unique_labels([("aaaaaaaa1", "x[a=1]"), ("bbbbbbbb2", "x[a=1]"), ("c", "y")])
    assert labels == {"aaaaaaaa1": "x[a=1]#aaaaaaaa", "bbbbbbbb2": "x[a=1]#bbbbbbbb", "c": "y"}


def test_two_rules_running_one_stage_with_equal_wildcards_get_one_summary(tmp_root):
    tracking.init(tmp_root)
    c = tracking.client(tmp_root)
    exp = tracking.ensure_experiment("rec", tmp_root)
    same = {"dataset": "beauty", "peer": "sasrec"}  # rec_peer for the peers and for the protocol check
    ids = [_stage_run(c, exp, "inv1", same, 3.0), _stage_run(c, exp, "inv1", same, 4.0)]
    run_id = pipeline_summary.summarize_invocation("inv1", root=tmp_root)
    run = c.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert sorted(run.data.params.values()) == sorted(ids)  # both stage runs linked, no key lost
    assert run.data.metrics["stages"] == 2 and run.data.metrics["stage_seconds_total"] == 7.0


def test_a_failing_summary_warns_and_exits_0(tmp_root, monkeypatch, capsys):
    monkeypatch.setenv("LMREPRO_INVOCATION_ID", "inv2")

    def broken(*args, **kwargs):
        raise RuntimeError("store unreachable")

    monkeypatch.setattr(pipeline_summary, "summarize_invocation", broken)
    assert pipeline_summary.main([]) == 0
    assert "could not be written (RuntimeError: store unreachable)" in capsys.readouterr().err
