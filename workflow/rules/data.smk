# Dataset construction: verified raw files, then validated Parquet tables.


# A group reruns when its manifest lines change (params.manifest: Snakemake's params
# trigger) or the bytes of one of its mirror files change (params.mirror), never for
# another group's; the mirror files' mtimes do not count (ancient inputs).
rule fetch:
    input:
        sources=mirror_files,
        code=code_of("stages.fetch"),
    output:
        directory("data/raw/{group}"),
    log:
        "logs/fetch/{group}.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("data.mirror", "data.manifest"),
        manifest=manifest_lines,
        mirror=mirror_digests,
    shell:
        "python -m lmrepro.stages.fetch --group {wildcards.group} --out {output} {params.cfg} --log {log}"


rule build_rec:
    input:
        raw="data/raw/rec",
        code=code_of("stages.build_rec"),
    output:
        table="data/rec/{dataset}.parquet",
        metrics="reports/metrics/data/rec-{dataset}.json",
    log:
        "logs/build_rec/{dataset}.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("data.rec.datasets", "data.rec.sources.{dataset}"),
    shell:
        "python -m lmrepro.stages.build_rec --dataset {wildcards.dataset} --raw {input.raw}"
        " --out {output.table} --metrics {output.metrics} {params.cfg} --log {log}"


rule build_nlu:
    input:
        raw="data/raw/nlu",
        code=code_of("stages.build_nlu"),
    output:
        table="data/nlu/tasks.parquet",
        counts=report(
            "reports/data/nlu_counts.md",
            caption="../report/nlu_counts.rst",
            category="Data",
        ),
        metrics="reports/metrics/data/nlu.json",
    log:
        "logs/build_nlu/build_nlu.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("data.nlu"),
    shell:
        "python -m lmrepro.stages.build_nlu --raw {input.raw} --out {output.table}"
        " --counts {output.counts} --metrics {output.metrics} {params.cfg} --log {log}"


rule build_corpus:
    input:
        raw="data/raw/text",
        code=code_of("stages.build_corpus"),
    output:
        table="data/text/corpus.parquet",
        metrics="reports/metrics/data/corpus.json",
    log:
        "logs/build_corpus/build_corpus.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("data.corpus"),
    shell:
        "python -m lmrepro.stages.build_corpus --raw {input.raw} --out {output.table}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend(
    expand(rules.build_rec.output.metrics, dataset=config["data"]["rec"]["datasets"])
)
EVALUATE_INPUTS.extend(
    [rules.build_nlu.output.metrics, rules.build_corpus.output.metrics]
)
REPORT_INPUTS.append(rules.build_nlu.output.counts)
