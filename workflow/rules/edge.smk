# Edge track: adapter-ALBERT on heterogeneous on-chip memory (papers.md section 4).
# Technology table -> workloads -> energy sweep; robustness of the ALTER track's trained bundle.

EDGE_BUNDLE = config["edge"]["robustness"]["bundle"]


def edge_has_bundle():
    """The trained MTA bundle is available when a rule makes it (the mta track) or it exists."""
    return any(EDGE_BUNDLE in map(str, r.output) for r in workflow.rules) or Path(EDGE_BUNDLE).exists()


EDGE_MODELS = ["albert-base-v2"] + (["ours"] if edge_has_bundle() else [])


def edge_workload_inputs(wildcards):
    return {"bundle": EDGE_BUNDLE} if wildcards.model == "ours" else {}


def edge_bundle_arg(wildcards, input):
    return f"--bundle {input.bundle}" if wildcards.model == "ours" else ""


wildcard_constraints:
    model="albert-base-v2|ours",


rule edge_tech:
    input:
        raw="data/raw/energy",
        code=code("stages/edge_tech.py", "edge/tech.py", "edge/schemas.py"),
    output:
        table="data/edge/tech.parquet",
        failed="data/edge/tech_failed.parquet",
        metrics="reports/metrics/edge/tech.json",
    params:
        cfg=cfg("edge.tech"),
    log:
        "logs/edge_tech/edge_tech.log",
    threads: THREADS
    shell:
        "python -m lmrepro.stages.edge_tech --raw {input.raw} --out {output.table} --failed {output.failed}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


rule edge_workload:
    input:
        unpack(edge_workload_inputs),
        code=code("stages/edge_workload.py", "edge/workload.py", "edge/schemas.py"),
    output:
        table="data/edge/workload/{model}.parquet",
        metrics="reports/metrics/edge/workload-{model}.json",
    params:
        cfg=cfg("edge.workload"),
        bundle=edge_bundle_arg,
    log:
        "logs/edge_workload/{model}.log",
    threads: THREADS
    shell:
        "python -m lmrepro.stages.edge_workload --model {wildcards.model} {params.bundle}"
        " --out {output.table} --metrics {output.metrics} {params.cfg} --log {log}"


rule edge_energy:
    input:
        tech=rules.edge_tech.output.table,
        workloads=expand("data/edge/workload/{model}.parquet", model=EDGE_MODELS),
        code=code("stages/edge_energy.py", "edge/energy.py", "edge/tech.py", "edge/figures.py", "edge/schemas.py"),
    output:
        table="data/edge/energy.parquet",
        metrics="reports/metrics/edge/energy.json",
        fig_tasks="reports/edge/energy_vs_tasks.png",
        fig_rate="reports/edge/energy_vs_rate.png",
    params:
        cfg=cfg("edge.energy", "edge.prune"),
    log:
        "logs/edge_energy/edge_energy.log",
    threads: THREADS
    shell:
        "python -m lmrepro.stages.edge_energy --tech {input.tech} --workloads {input.workloads}"
        " --out {output.table} --metrics {output.metrics} --fig-tasks {output.fig_tasks}"
        " --fig-rate {output.fig_rate} {params.cfg} --log {log}"


rule edge_robustness:
    input:
        bundle=EDGE_BUNDLE,
        nlu="data/nlu/tasks.parquet",
        code=code("stages/edge_robustness.py", "edge/robustness.py", "edge/compression.py", "edge/figures.py",
                  "edge/schemas.py"),
    output:
        table="data/edge/robustness.parquet",
        metrics="reports/metrics/edge/robustness.json",
        figure="reports/edge/accuracy_vs_ber.png",
    params:
        cfg=cfg("edge.robustness", "edge.prune"),
    log:
        "logs/edge_robustness/edge_robustness.log",
    threads: THREADS
    shell:
        "python -m lmrepro.stages.edge_robustness --bundle {input.bundle} --nlu {input.nlu}"
        " --out {output.table} --metrics {output.metrics} --figure {output.figure} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend([rules.edge_tech.output.metrics, rules.edge_energy.output.metrics])
EVALUATE_INPUTS.extend(expand(rules.edge_workload.output.metrics, model=EDGE_MODELS))
REPORT_INPUTS.extend([rules.edge_energy.output.fig_tasks, rules.edge_energy.output.fig_rate])
if edge_has_bundle():
    EVALUATE_INPUTS.append(rules.edge_robustness.output.metrics)
    REPORT_INPUTS.append(rules.edge_robustness.output.figure)
