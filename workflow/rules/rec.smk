# LightLM track: indexing -> generative recommenders (+ peers) -> report.
from lmrepro.rec.grid import train_runs

REC = config["rec"]


rule rec_index:
    input:
        interactions="data/rec/{dataset}.parquet",
        code=code_of("stages.rec_index"),
    output:
        table="data/rec/index/{dataset}/{method}.parquet",
        metrics="reports/metrics/rec/index-{dataset}-{method}.json",
    log:
        "logs/rec_index/{dataset}-{method}.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("rec.subset", "rec.index.{method}"),
    shell:
        "python -m lmrepro.stages.rec_index --dataset {wildcards.dataset} --method {wildcards.method}"
        " --interactions {input.interactions} --out {output.table} --metrics {output.metrics}"
        " {params.cfg} --log {log}"


rule rec_train:
    input:
        interactions="data/rec/{dataset}.parquet",
        index="data/rec/index/{dataset}/{method}.parquet",
        code=code_of("stages.rec_train"),
    output:
        model=directory("models/rec/{dataset}/{method}-{model}-{setting}"),
        per_user="data/rec/eval/{dataset}/{method}-{model}-{setting}.parquet",
        metrics="reports/metrics/rec/train-{dataset}-{method}-{model}-{setting}.json",
        timing="reports/rec/timing/{dataset}-{method}-{model}-{setting}.json",
    log:
        "logs/rec_train/{dataset}-{method}-{model}-{setting}.log",
    benchmark:
        "benchmarks/rec_train/{dataset}-{method}-{model}-{setting}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("rec.subset", "rec.model", "rec.train", "rec.eval"),
    shell:
        "python -m lmrepro.stages.rec_train --dataset {wildcards.dataset} --method {wildcards.method}"
        " --model {wildcards.model} --setting {wildcards.setting} --interactions {input.interactions}"
        " --index {input.index} --model-dir {output.model} --per-user {output.per_user}"
        " --metrics {output.metrics} --timing {output.timing} {params.cfg} --log {log}"


rule rec_peer_mostpop:
    input:
        interactions="data/rec/{dataset}.parquet",
        code=code_of("stages.rec_peer"),
    output:
        per_user="data/rec/eval/{dataset}/peer-mostpop.parquet",
        metrics="reports/metrics/rec/peer-{dataset}-mostpop.json",
    log:
        "logs/rec_peer/{dataset}-mostpop.log",
    benchmark:
        "benchmarks/rec_peer/{dataset}-mostpop.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("rec.subset", "rec.eval"),
    shell:
        "python -m lmrepro.stages.rec_peer --dataset {wildcards.dataset} --peer mostpop"
        " --interactions {input.interactions} --per-user {output.per_user}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


rule rec_peer_sasrec:
    input:
        interactions="data/rec/{dataset}.parquet",
        code=code_of("stages.rec_peer"),
    output:
        model=directory("models/rec/{dataset}/peer-sasrec"),
        per_user="data/rec/eval/{dataset}/peer-sasrec.parquet",
        metrics="reports/metrics/rec/peer-{dataset}-sasrec.json",
        timing="reports/rec/timing/{dataset}-peer-sasrec.json",
    log:
        "logs/rec_peer/{dataset}-sasrec.log",
    benchmark:
        "benchmarks/rec_peer/{dataset}-sasrec.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("rec.subset", "rec.peer.sasrec", "rec.eval"),
    shell:
        "python -m lmrepro.stages.rec_peer --dataset {wildcards.dataset} --peer sasrec"
        " --interactions {input.interactions} --per-user {output.per_user}"
        " --metrics {output.metrics} --timing {output.timing} --model-dir {output.model}"
        " {params.cfg} --log {log}"


# Protocol check: the same peer code on the params block rec.protocol_check (all users,
# TIGER protocol), compared with the published SASRec row (lmrepro.rec.protocol).
PROTOCOL = REC["protocol_check"]


rule rec_protocol_mostpop:
    input:
        interactions="data/rec/{dataset}.parquet",
        code=code_of("stages.rec_peer"),
    output:
        per_user="data/rec/eval/{dataset}/protocol-mostpop.parquet",
        metrics="reports/metrics/rec/protocol-{dataset}-mostpop.json",
    log:
        "logs/rec_protocol/{dataset}-mostpop.log",
    benchmark:
        "benchmarks/rec_protocol/{dataset}-mostpop.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("rec.protocol_check"),
    shell:
        "python -m lmrepro.stages.rec_peer --dataset {wildcards.dataset} --peer mostpop"
        " --block rec.protocol_check --interactions {input.interactions} --per-user {output.per_user}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


rule rec_protocol_sasrec:
    input:
        interactions="data/rec/{dataset}.parquet",
        code=code_of("stages.rec_peer"),
    output:
        model=directory("models/rec/{dataset}/protocol-{peer}"),
        per_user="data/rec/eval/{dataset}/protocol-{peer}.parquet",
        metrics="reports/metrics/rec/protocol-{dataset}-{peer}.json",
        timing="reports/rec/timing/{dataset}-protocol-{peer}.json",
    log:
        "logs/rec_protocol/{dataset}-{peer}.log",
    benchmark:
        "benchmarks/rec_protocol/{dataset}-{peer}.tsv"
    wildcard_constraints:
        peer="sasrec|sasrec_paper",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("rec.protocol_check"),
    shell:
        "python -m lmrepro.stages.rec_peer --dataset {wildcards.dataset} --peer {wildcards.peer}"
        " --block rec.protocol_check --interactions {input.interactions} --per-user {output.per_user}"
        " --metrics {output.metrics} --timing {output.timing} --model-dir {output.model}"
        " {params.cfg} --log {log}"


rule rec_protocol:
    input:
        interactions=expand("data/rec/{dataset}.parquet", dataset=PROTOCOL["datasets"]),
        peers=expand(
            "reports/metrics/rec/protocol-{dataset}-{peer}.json",
            dataset=PROTOCOL["datasets"],
            peer=["mostpop", "sasrec", "sasrec_paper"],
        ),
        code=code_of("stages.rec_protocol"),
    output:
        "reports/rec/protocol_check.json",
    log:
        "logs/rec_protocol/rec_protocol.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(
            "rec.protocol_check",
            *(f"data.rec.sources.{d}" for d in PROTOCOL["datasets"]),
        ),
    shell:
        "python -m lmrepro.stages.rec_protocol --interactions {input.interactions} --peers {input.peers}"
        " --out {output} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend(rules.rec_protocol.input.peers)
REPORT_INPUTS.extend(
    rules.rec_protocol.output
    + expand(
        rules.rec_protocol_sasrec.output.timing,
        dataset=PROTOCOL["datasets"],
        peer=["sasrec", "sasrec_paper"],
    )
)


REC_TRAIN_RUNS = train_runs(
    REC
)  # lmrepro.rec.grid: rec.grid blocks, or the full product


rule rec_summary:
    input:
        index=expand(
            rules.rec_index.output.metrics,
            dataset=REC["datasets"],
            method=REC["indexings"] + REC["ablations"],
        ),
        train=expand("reports/metrics/rec/train-{run}.json", run=REC_TRAIN_RUNS),
        peers=expand(
            "reports/metrics/rec/peer-{dataset}-{peer}.json",
            dataset=REC["datasets"],
            peer=REC["peers"],
        ),
        code=code_of("stages.rec_summary"),
    output:
        summary="reports/rec/summary.json",
        figure=report(
            "reports/rec/hr10_vs_params.png",
            caption="../report/rec.rst",
            category="LightLM",
        ),
    log:
        "logs/rec_summary/rec_summary.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(
            "rec.ablations",
            "rec.subset",
            "rec.train",
            "rec.model",
            "rec.peer.sasrec",
            "rec.eval",
        ),
    shell:
        "python -m lmrepro.stages.rec_summary --index {input.index} --train {input.train}"
        " --peers {input.peers}"
        " --out {output.summary} --figure {output.figure} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend(rules.rec_summary.input.index)
EVALUATE_INPUTS.extend(rules.rec_summary.input.train)
EVALUATE_INPUTS.extend(rules.rec_summary.input.peers)
REPORT_INPUTS.extend(rules.rec_summary.output)
# wall times (reports/timing.md only; never in results.md or summary.json)
REPORT_INPUTS.extend(
    expand("reports/rec/timing/{run}.json", run=REC_TRAIN_RUNS)
    + expand(
        rules.rec_peer_sasrec.output.timing,
        dataset=REC["datasets"] if "sasrec" in REC["peers"] else [],
    )
)
# the claims pair these per-user tables (every train run and peer of the grid)
CLAIM_INPUTS.extend(
    expand(
        "data/rec/eval/{run}.parquet",
        run=[r.replace("-", "/", 1) for r in REC_TRAIN_RUNS],
    )
    + expand(
        "data/rec/eval/{dataset}/peer-{peer}.parquet",
        dataset=REC["datasets"],
        peer=REC["peers"],
    )
)
