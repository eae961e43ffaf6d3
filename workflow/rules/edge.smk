# Edge track: adapter-ALBERT on heterogeneous on-chip memory (papers.md section 4).
# Technology table -> workloads -> energy sweep; robustness of the ALTER track's trained bundle.

# The trained backbone-plus-adapters bundle comes from the mta track (mta.smk is
# included before this file and its stage 2 writes it).
EDGE_BUNDLE = config["edge"]["robustness"]["bundle"]
EDGE_MODELS = ["albert-base-v2", "ours"]


rule edge_tech:
    input:
        raw="data/raw/energy",
        code=code_of("stages.edge_tech"),
    output:
        table="data/edge/tech.parquet",
        failed="data/edge/tech_failed.parquet",
        metrics="reports/metrics/edge/tech.json",
    log:
        "logs/edge_tech/edge_tech.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("edge.tech"),
    shell:
        "python -m lmrepro.stages.edge_tech --raw {input.raw} --out {output.table} --failed {output.failed}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


rule edge_workload_albert:
    input:
        code=code_of("stages.edge_workload"),
    output:
        table="data/edge/workload/albert-base-v2.parquet",
        metrics="reports/metrics/edge/workload-albert-base-v2.json",
    log:
        "logs/edge_workload/albert-base-v2.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("edge.workload"),
    shell:
        "python -m lmrepro.stages.edge_workload --model albert-base-v2"
        " --out {output.table} --metrics {output.metrics} {params.cfg} --log {log}"


rule edge_workload_ours:
    input:
        bundle=EDGE_BUNDLE,
        code=code_of("stages.edge_workload"),
    output:
        table="data/edge/workload/ours.parquet",
        metrics="reports/metrics/edge/workload-ours.json",
    log:
        "logs/edge_workload/ours.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("edge.workload"),
    shell:
        "python -m lmrepro.stages.edge_workload --model ours --bundle {input.bundle}"
        " --out {output.table} --metrics {output.metrics} {params.cfg} --log {log}"


rule edge_energy:
    input:
        tech=rules.edge_tech.output.table,
        workloads=expand("data/edge/workload/{model}.parquet", model=EDGE_MODELS),
        claims=repo_path("workflow/claims/edge_energy.yaml"),  # the pre-registered region and competitors
        code=code_of("stages.edge_energy"),
    output:
        table="data/edge/energy.parquet",
        metrics="reports/metrics/edge/energy.json",
        fig_tasks=report(
            "reports/edge/energy_vs_tasks.png",
            caption="../report/edge_energy_tasks.rst",
            category="Edge",
        ),
        fig_rate=report(
            "reports/edge/energy_vs_rate.png",
            caption="../report/edge_energy_rate.rst",
            category="Edge",
        ),
        region="reports/edge/region.json",
        winner_map=report(
            "reports/edge/winner_map.png",
            caption="../report/edge_winner_map.rst",
            category="Edge",
        ),
        winner_map_data="reports/edge/winner_map.csv",
        sensitivity="reports/edge/sensitivity.json",
        tornado=report(
            "reports/edge/tornado.png",
            caption="../report/edge_tornado.rst",
            category="Edge",
        ),
        tornado_data="reports/edge/tornado.csv",
    log:
        "logs/edge_energy/edge_energy.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("edge.energy", "edge.prune"),
    shell:
        "python -m lmrepro.stages.edge_energy --tech {input.tech} --workloads {input.workloads}"
        " --out {output.table} --metrics {output.metrics} --fig-tasks {output.fig_tasks}"
        " --fig-rate {output.fig_rate} --claims {input.claims} --region {output.region}"
        " --winner-map {output.winner_map} --winner-map-data {output.winner_map_data}"
        " --sensitivity {output.sensitivity} --tornado {output.tornado} --tornado-data {output.tornado_data}"
        " {params.cfg} --log {log}"


rule edge_robustness:
    input:
        bundle=EDGE_BUNDLE,
        nlu="data/nlu/tasks.parquet",
        code=code_of("stages.edge_robustness"),
    output:
        table="data/edge/robustness.parquet",
        predictions="data/edge/robustness_predictions.parquet",
        metrics="reports/metrics/edge/robustness.json",
        figure=report(
            "reports/edge/accuracy_vs_ber.png",
            caption="../report/edge_ber.rst",
            category="Edge",
        ),
        timing="reports/edge/timing/robustness.json",
    log:
        "logs/edge_robustness/edge_robustness.log",
    benchmark:
        "benchmarks/edge_robustness/edge_robustness.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("edge.robustness", "edge.prune"),
    shell:
        "python -m lmrepro.stages.edge_robustness --bundle {input.bundle} --nlu {input.nlu}"
        " --out {output.table} --predictions {output.predictions} --metrics {output.metrics}"
        " --figure {output.figure} --timing {output.timing} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend(
    [rules.edge_tech.output.metrics, rules.edge_energy.output.metrics]
)
EVALUATE_INPUTS.extend(
    expand("reports/metrics/edge/workload-{model}.json", model=EDGE_MODELS)
)
REPORT_INPUTS.extend(
    [
        rules.edge_energy.output.fig_tasks,
        rules.edge_energy.output.fig_rate,
        rules.edge_energy.output.region,
        rules.edge_energy.output.winner_map,
        rules.edge_energy.output.sensitivity,
        rules.edge_energy.output.tornado,
    ]
)
EVALUATE_INPUTS.append(rules.edge_robustness.output.metrics)
REPORT_INPUTS.extend(
    [rules.edge_robustness.output.figure, rules.edge_robustness.output.predictions]
)
# the pre-registered edge claims read the energy sweep and the per-row robustness outcomes
CLAIM_INPUTS.extend(
    [rules.edge_energy.output.table, rules.edge_robustness.output.predictions]
)
# wall times: reports/timing.md only
REPORT_INPUTS.append(rules.edge_robustness.output.timing)
