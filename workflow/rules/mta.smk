# ALTER track: Mixture-of-Task-Adapters. Logic in src/lmrepro/mta, stages in src/lmrepro/stages/mta_*.py.
# Order: features (cache) -> stage 1 (task adapters) -> stage 2 (mixture) and baselines -> eval.
# Stage 2 is its own rule reading its own params (mta.stage2), so changing a stage-2 knob
# reruns only mta_stage2 and mta_eval.

MTA_BASELINES = ["single_ft", "multi_ft", "shared", "joint", "fusion"]
MTA_FEATURES = {
    "examples": "data/mta/examples.parquet",
    "tokens": "data/mta/tokens.safetensors",
    "features": "data/mta/features.safetensors",
}
MTA_COMMON = (
    "mta.backbone",
    "mta.data",
    "mta.mixture",
    "mta.seeds",
    "mta.search",
    "mta.precision",
)
# mta.mixture.blocks: chosen = train at the placement validation chose: every stage that
# builds adapters (and the feature cache, split below the first adapted block) then reads
# rule mta_placement's record.
MTA_PLACEMENT = "data/mta/placement.json"
MTA_PLACED = (
    {"placement": MTA_PLACEMENT}
    if config["mta"]["mixture"]["blocks"] == "chosen"
    else {}
)


rule mta_features:
    input:
        **MTA_PLACED,
        table="data/nlu/tasks.parquet",
        code=code_of("stages.mta_features"),
    output:
        **MTA_FEATURES,
        timing="reports/mta/timing/mta_features.json",
    log:
        "logs/mta_features/mta_features.log",
    benchmark:
        "benchmarks/mta_features/mta_features.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("mta.backbone", "mta.data", "mta.mixture.blocks"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_features --tasks-table {input.table} --examples {output.examples}"
        " --tokens {output.tokens} --features {output.features} --timing {output.timing} {params.placement}"
        " {params.cfg} --log {log}"


# Adapter placement (top 1, 2 or 3 blocks) chosen on validation with the first seed's stage-1
# adapters; mta_eval reports it beside the table (mta/placement.py).
rule mta_placement:
    input:
        table="data/nlu/tasks.parquet",
        code=code_of("stages.mta_placement"),
    output:
        placement=MTA_PLACEMENT,
        timing="reports/mta/timing/mta_placement.json",
    log:
        "logs/mta_placement/mta_placement.log",
    benchmark:
        "benchmarks/mta_placement/mta_placement.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.stage1", "mta.placement"),
    shell:
        "python -m lmrepro.stages.mta_placement --tasks-table {input.table}"
        " --out {output.placement} --timing {output.timing} {params.cfg} --log {log}"


rule mta_stage1:
    input:
        **MTA_FEATURES,
        **MTA_PLACED,
        code=code_of("stages.mta_stage1"),
    output:
        models=directory("models/mta/stage1"),
        preds="data/mta/preds/adapters.parquet",
        runs="data/mta/runs/adapters.json",
        timing="reports/mta/timing/mta_stage1.json",
    log:
        "logs/mta_stage1/mta_stage1.log",
    benchmark:
        "benchmarks/mta_stage1/mta_stage1.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.stage1"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_stage1 --examples {input.examples} --tokens {input.tokens}"
        " --features {input.features} --out-dir {output.models} --preds {output.preds}"
        " --runs {output.runs} --timing {output.timing} {params.placement} {params.cfg} --log {log}"


rule mta_stage2:
    input:
        **MTA_FEATURES,
        **MTA_PLACED,
        stage1=rules.mta_stage1.output.models,
        stage1_runs=rules.mta_stage1.output.runs,
        code=code_of("stages.mta_stage2"),
    output:
        bundle=directory("models/mta/mta"),
        preds="data/mta/preds/mta.parquet",
        runs="data/mta/runs/mta.json",
        gates="data/mta/gates/mta.json",
        timing="reports/mta/timing/mta_stage2.json",
    log:
        "logs/mta_stage2/mta_stage2.log",
    benchmark:
        "benchmarks/mta_stage2/mta_stage2.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.stage2"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_stage2 --examples {input.examples} --tokens {input.tokens}"
        " --features {input.features} --stage1 {input.stage1} --stage1-runs {input.stage1_runs}"
        " --bundle {output.bundle} --preds {output.preds} --runs {output.runs} --gates {output.gates}"
        " --timing {output.timing} {params.placement} {params.cfg} --log {log}"


# Ablation: the same stage 2 from neutral gates (equal weights on all adapters) instead of
# the ~0.94 own-adapter weight stage 1 leaves, so that stage 2 has routing to learn.
rule mta_stage2_neutral:
    input:
        **MTA_FEATURES,
        **MTA_PLACED,
        stage1=rules.mta_stage1.output.models,
        stage1_runs=rules.mta_stage1.output.runs,
        code=code_of("stages.mta_stage2"),
    output:
        preds="data/mta/preds/mta_neutral.parquet",
        runs="data/mta/runs/mta_neutral.json",
        gates="data/mta/gates/mta_neutral.json",
        timing="reports/mta/timing/mta_stage2_neutral.json",
    log:
        "logs/mta_stage2/mta_stage2_neutral.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.stage2", "mta.ablations.neutral_gate"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_stage2 --method mta_neutral --examples {input.examples}"
        " --tokens {input.tokens} --features {input.features} --stage1 {input.stage1}"
        " --stage1-runs {input.stage1_runs} --preds {output.preds} --runs {output.runs}"
        " --gates {output.gates} --timing {output.timing} {params.placement} {params.cfg} --log {log}"


rule mta_baseline_fusion:
    input:
        **MTA_FEATURES,
        **MTA_PLACED,
        stage1=rules.mta_stage1.output.models,
        stage1_runs=rules.mta_stage1.output.runs,
        code=code_of("stages.mta_baseline"),
    output:
        preds="data/mta/preds/fusion.parquet",
        runs="data/mta/runs/fusion.json",
        timing="reports/mta/timing/mta_baseline-fusion.json",
    log:
        "logs/mta_baseline/fusion.log",
    benchmark:
        "benchmarks/mta_baseline/fusion.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.baselines.fusion"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_baseline --method fusion --examples {input.examples}"
        " --tokens {input.tokens} --features {input.features} --stage1 {input.stage1}"
        " --stage1-runs {input.stage1_runs} --preds {output.preds} --runs {output.runs}"
        " --timing {output.timing} {params.placement} {params.cfg} --log {log}"


rule mta_baseline:
    input:
        **MTA_FEATURES,
        **MTA_PLACED,
        code=code_of("stages.mta_baseline"),
    output:
        preds="data/mta/preds/{mta_method}.parquet",
        runs="data/mta/runs/{mta_method}.json",
        timing="reports/mta/timing/mta_baseline-{mta_method}.json",
    log:
        "logs/mta_baseline/{mta_method}.log",
    benchmark:
        "benchmarks/mta_baseline/{mta_method}.tsv"
    wildcard_constraints:
        mta_method="single_ft|multi_ft|shared|joint",
    # the longest ALTER jobs (full fine-tuning): started first so the short adapter jobs fill the
    # other core around them instead of leaving one fine-tuning job running alone at the end
    priority: 10
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.baselines.{mta_method}"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_baseline --method {wildcards.mta_method} --examples {input.examples}"
        " --tokens {input.tokens} --features {input.features} --preds {output.preds}"
        " --runs {output.runs} --timing {output.timing} {params.placement} {params.cfg} --log {log}"


# Learning curve of the cached-feature methods (adapters, MTA) over mta.data.curve training sizes;
# the comparison above stays on the mta.data.n_train rows that every method trains on.
rule mta_curve:
    input:
        **MTA_FEATURES,
        **MTA_PLACED,
        table="data/nlu/tasks.parquet",
        code=code_of("stages.mta_curve"),
    output:
        scores="data/mta/curve.parquet",
        figure=report(
            "reports/mta/curve.png",
            caption="../report/mta_curve.rst",
            category="ALTER",
        ),
        timing="reports/mta/timing/mta_curve.json",
    log:
        "logs/mta_curve/mta_curve.log",
    benchmark:
        "benchmarks/mta_curve/mta_curve.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON, "mta.curve", "mta.stage1", "mta.stage2"),
        placement=placement_arg,
    shell:
        "python -m lmrepro.stages.mta_curve --tasks-table {input.table} --examples {input.examples} --tokens {input.tokens}"
        " --features {input.features} --scores {output.scores} --figure {output.figure}"
        " --timing {output.timing} {params.placement} {params.cfg} --log {log}"


MTA_METHODS = ["adapters", "mta", "mta_neutral", *MTA_BASELINES]
# mta/gates.py RUNS: the stage-2 runs that record gates
MTA_STAGE2_RUNS = ["mta", "mta_neutral"]


rule mta_eval:
    input:
        preds=expand("data/mta/preds/{m}.parquet", m=MTA_METHODS),
        runs=expand("data/mta/runs/{m}.json", m=MTA_METHODS),
        gates=expand("data/mta/gates/{m}.json", m=MTA_STAGE2_RUNS),
        placement=rules.mta_placement.output.placement,
        code=code_of("stages.mta_eval"),
    output:
        scores="reports/metrics/mta/scores.json",
        per_seed="data/mta/scores.parquet",
        runs="reports/mta/runs.json",
        table=report(
            "reports/mta/table.md", caption="../report/mta_table.rst", category="ALTER"
        ),
        figure=report(
            "reports/mta/tasks.png",
            caption="../report/mta_tasks.rst",
            category="ALTER",
        ),
        gates="reports/mta/gates.json",
        gates_figure=report(
            "reports/mta/gates.png",
            caption="../report/mta_gates.rst",
            category="ALTER",
        ),
    log:
        "logs/mta_eval/mta_eval.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(*MTA_COMMON),
    shell:
        "python -m lmrepro.stages.mta_eval --preds {input.preds} --runs {input.runs}"
        " --scores {output.scores} --per-seed {output.per_seed} --runs-out {output.runs}"
        " --table {output.table} --figure {output.figure} --gates {input.gates} --gates-out {output.gates}"
        " --gates-figure {output.gates_figure} --placement {input.placement} {params.cfg} --log {log}"


EVALUATE_INPUTS.append(rules.mta_eval.output.scores)
REPORT_INPUTS.extend(
    [
        rules.mta_eval.output.runs,
        rules.mta_eval.output.figure,
        rules.mta_eval.output.gates,
        rules.mta_eval.output.gates_figure,
        rules.mta_curve.output.figure,
        rules.mta_curve.output.scores,
    ]
)
CLAIM_INPUTS.extend(rules.mta_eval.input.preds)
# wall times live only in these files (mta/report.py reads them); every other MTA output is reproducible
REPORT_INPUTS.extend(
    [
        "reports/mta/timing/mta_stage1.json",
        "reports/mta/timing/mta_stage2.json",
        "reports/mta/timing/mta_stage2_neutral.json",
        "reports/mta/timing/mta_curve.json",
        "reports/mta/timing/mta_placement.json",
        *expand("reports/mta/timing/mta_baseline-{m}.json", m=MTA_BASELINES),
    ]
)
