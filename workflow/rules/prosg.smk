# ProSG track: constructed prompt-forgetting set, RWKV base LM, synthetic-gradient
# generators (one per variant), evaluation against baselines.

PROSG_VARIANTS = list(config["prosg"]["variants"])


wildcard_constraints:
    variant="|".join(PROSG_VARIANTS) or "none",


rule build_prosg_data:
    input:
        corpus="data/text/corpus.parquet",
        code=code_of("stages.build_prosg_data"),
    output:
        table="data/prosg/examples.parquet",
        metrics="reports/metrics/prosg/data.json",
    log:
        "logs/build_prosg_data/build_prosg_data.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.data"),
    shell:
        "python -m lmrepro.stages.build_prosg_data --corpus {input.corpus} --out {output.table}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


rule pretrain_rnn:
    input:
        examples=rules.build_prosg_data.output.table,
        corpus="data/text/corpus.parquet",
        code=code_of("stages.pretrain_rnn"),
    output:
        model=directory("models/prosg/base"),
        metrics="reports/metrics/prosg/pretrain.json",
        timing="reports/prosg/timing/pretrain_rnn.json",
    log:
        "logs/pretrain_rnn/pretrain_rnn.log",
    benchmark:
        "benchmarks/pretrain_rnn/pretrain_rnn.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.tokenizer", "prosg.model", "prosg.pretrain"),
    shell:
        "python -m lmrepro.stages.pretrain_rnn --examples {input.examples} --corpus {input.corpus}"
        " --out {output.model} --metrics {output.metrics} --timing {output.timing} {params.cfg} --log {log}"


rule train_prosg:
    input:
        examples=rules.build_prosg_data.output.table,
        base=rules.pretrain_rnn.output.model,
        code=code_of("stages.train_prosg"),
    output:
        generator=directory("models/prosg/generators/{variant}"),
        metrics="reports/metrics/prosg/train-{variant}.json",
        timing="reports/prosg/timing/train_prosg-{variant}.json",
    log:
        "logs/train_prosg/{variant}.log",
    benchmark:
        "benchmarks/train_prosg/{variant}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.update", "prosg.train", "prosg.variants.{variant}"),
    shell:
        "python -m lmrepro.stages.train_prosg --variant {wildcards.variant} --examples {input.examples}"
        " --base {input.base} --out {output.generator} --metrics {output.metrics} --timing {output.timing}"
        " {params.cfg} --log {log}"


rule eval_prosg:
    input:
        examples=rules.build_prosg_data.output.table,
        base=rules.pretrain_rnn.output.model,
        generators=expand(rules.train_prosg.output.generator, variant=PROSG_VARIANTS),
        code=code_of("stages.eval_prosg"),
    output:
        table="data/prosg/eval/accuracy.parquet",
        predictions="data/prosg/preds.parquet",
        figure=report(
            "reports/prosg/accuracy_vs_distance.png",
            caption="../report/prosg.rst",
            category="ProSG",
        ),
        markdown=report(
            "reports/prosg/accuracy.md",
            caption="../report/prosg_table.rst",
            category="ProSG",
        ),
        timing="reports/prosg/timing/eval_prosg.json",
        metrics="reports/metrics/prosg/eval.json",
    log:
        "logs/eval_prosg/eval_prosg.log",
    benchmark:
        "benchmarks/eval_prosg/eval_prosg.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.eval"),
    shell:
        "python -m lmrepro.stages.eval_prosg --examples {input.examples} --base {input.base}"
        " --generators {input.generators} --table {output.table} --figure {output.figure}"
        " --markdown {output.markdown} --predictions {output.predictions} --timing {output.timing}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend(
    [
        rules.build_prosg_data.output.metrics,
        rules.pretrain_rnn.output.metrics,
        *expand(rules.train_prosg.output.metrics, variant=PROSG_VARIANTS),
        rules.eval_prosg.output.metrics,
    ]
)
REPORT_INPUTS.extend(
    [
        rules.eval_prosg.output.markdown,
        rules.eval_prosg.output.figure,
        rules.eval_prosg.output.predictions,  # paired per-item outcomes for the claims
        rules.pretrain_rnn.output.timing,
        *expand(rules.train_prosg.output.timing, variant=PROSG_VARIANTS),
        rules.eval_prosg.output.timing,
    ]
)
CLAIM_INPUTS.append(rules.eval_prosg.output.predictions)
