"""A stage-2 knob reruns stage 2 and what consumes its outputs, nothing upstream."""

from tests.pipeline_helpers import REPO, affected_stages, dvc_stages


def test_stage2_knob_reruns_stage2_and_downstream_only():
    stages = dvc_stages(REPO)
    hit = affected_stages(stages, "mta.stage2.lr")
    # mta_curve trains stage 2 at every learning-curve size with the same settings
    ours = {"mta_stage2", "mta_stage2_neutral", "mta_curve", "mta_eval", "evaluate"}
    assert ours <= hit
    assert not hit & {"mta_features", "mta_stage1", "build_nlu", "fetch@nlu"}
    assert not {n for n in hit if n.startswith("mta_baseline")}
    # the only other consumers are the edge stages that read the trained bundle
    assert hit - ours <= {"edge_workload_ours", "edge_robustness", "edge_energy"}


def test_stage1_knob_reruns_more_than_stage2():
    stages = dvc_stages(REPO)
    assert {"mta_stage1", "mta_stage2", "mta_stage2_neutral", "mta_baseline_fusion"} <= affected_stages(
        stages, "mta.stage1.epochs")


def test_neutral_gate_knob_reruns_only_the_ablation_and_downstream():
    hit = affected_stages(dvc_stages(REPO), "mta.ablations.neutral_gate.gate_init_own")
    assert {"mta_stage2_neutral", "mta_eval"} <= hit
    assert not hit & {"mta_stage2", "mta_stage1", "mta_features"} and not {n for n in hit if n.startswith("edge")}
