# ProSG track: constructed prompt-forgetting set, RWKV base LM, synthetic-gradient
# generators (one per variant), evaluation against baselines; every model once per seed
# of prosg.seeds (seed s pre-trains base s and trains the generators on it).

from lmrepro.prosg.tuning import family_of as prosg_family_of

PROSG_VARIANTS = list(config["prosg"]["variants"])
PROSG_SEEDS = [str(s) for s in config["prosg"]["seeds"]]
PROSG_TUNE = config["prosg"]["tune"]
PROSG_TUNE_LRS = [f"{lr:g}" for lr in PROSG_TUNE["lrs"]]
try:
    prosg_family_of(PROSG_TUNE["families"], PROSG_VARIANTS)
except LmreproError as err:
    raise WorkflowError(str(err))
if str(PROSG_TUNE["seed"]) not in PROSG_SEEDS:
    raise WorkflowError(
        f"prosg.tune.seed {PROSG_TUNE['seed']} is not one of prosg.seeds {PROSG_SEEDS}"
    )


wildcard_constraints:
    variant="|".join(PROSG_VARIANTS) or "none",
    seed="|".join(PROSG_SEEDS) or "none",
    lr="|".join(re.escape(lr) for lr in PROSG_TUNE_LRS) or "none",


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
        model=directory("models/prosg/base/s{seed}"),
        metrics="reports/metrics/prosg/pretrain-s{seed}.json",
        timing="reports/prosg/timing/pretrain_rnn-s{seed}.json",
    log:
        "logs/pretrain_rnn/s{seed}.log",
    benchmark:
        "benchmarks/pretrain_rnn/s{seed}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.tokenizer", "prosg.model", "prosg.pretrain"),
    shell:
        "python -m lmrepro.stages.pretrain_rnn --seed {wildcards.seed} --examples {input.examples}"
        " --corpus {input.corpus} --out {output.model} --metrics {output.metrics} --timing {output.timing}"
        " {params.cfg} --log {log}"


rule pretrain_rnn_long:
    input:
        examples=rules.build_prosg_data.output.table,
        corpus="data/text/corpus.parquet",
        base=rules.pretrain_rnn.output.model,
        code=code_of("stages.pretrain_rnn_long"),
    output:
        model=directory("models/prosg/base_long/s{seed}"),
        metrics="reports/metrics/prosg/pretrain_long-s{seed}.json",
        timing="reports/prosg/timing/pretrain_rnn_long-s{seed}.json",
    log:
        "logs/pretrain_rnn_long/s{seed}.log",
    benchmark:
        "benchmarks/pretrain_rnn_long/s{seed}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.long_base"),
    shell:
        "python -m lmrepro.stages.pretrain_rnn_long --seed {wildcards.seed} --base {input.base}"
        " --examples {input.examples} --corpus {input.corpus} --out {output.model} --metrics {output.metrics}"
        " --timing {output.timing} {params.cfg} --log {log}"


rule tune_prosg:
    input:
        examples=rules.build_prosg_data.output.table,
        base=f"models/prosg/base/s{PROSG_TUNE['seed']}",
        code=code_of("stages.tune_prosg"),
    output:
        metrics="reports/metrics/prosg/tune-{variant}-lr{lr}.json",
        timing="reports/prosg/timing/tune_prosg-{variant}-lr{lr}.json",
    log:
        "logs/tune_prosg/{variant}-lr{lr}.log",
    benchmark:
        "benchmarks/tune_prosg/{variant}-lr{lr}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg(
            "prosg.update",
            "prosg.train",
            "prosg.tune",
            "prosg.variants.{variant}",
            "prosg.eval.batch_size",
        ),
    shell:
        "python -m lmrepro.stages.tune_prosg --variant {wildcards.variant} --lr {wildcards.lr}"
        " --examples {input.examples} --base {input.base} --metrics {output.metrics}"
        " --timing {output.timing} {params.cfg} --log {log}"


rule train_prosg:
    input:
        examples=rules.build_prosg_data.output.table,
        base=rules.pretrain_rnn.output.model,
        # every trial of the validation search; train_prosg takes its family's (one list for all
        # variants, so the DVC stage stays one template)
        trials=expand(
            rules.tune_prosg.output.metrics,
            variant=list(PROSG_TUNE["families"]),
            lr=PROSG_TUNE_LRS,
        ),
        code=code_of("stages.train_prosg"),
    output:
        generator=directory("models/prosg/generators/s{seed}/{variant}"),
        metrics="reports/metrics/prosg/train-s{seed}-{variant}.json",
        timing="reports/prosg/timing/train_prosg-s{seed}-{variant}.json",
    log:
        "logs/train_prosg/s{seed}-{variant}.log",
    benchmark:
        "benchmarks/train_prosg/s{seed}-{variant}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.update", "prosg.train", "prosg.tune.families", "prosg.variants"),
    shell:
        "python -m lmrepro.stages.train_prosg --seed {wildcards.seed} --variant {wildcards.variant}"
        " --examples {input.examples} --base {input.base} --trials {input.trials} --out {output.generator}"
        " --metrics {output.metrics} --timing {output.timing} {params.cfg} --log {log}"


rule train_prosg_long:
    input:
        examples=rules.build_prosg_data.output.table,
        base=rules.pretrain_rnn_long.output.model,
        trials=rules.train_prosg.input.trials,
        code=code_of("stages.train_prosg"),
    output:
        generator=directory("models/prosg/generators_long/s{seed}/main"),
        metrics="reports/metrics/prosg/train_long-s{seed}-main.json",
        timing="reports/prosg/timing/train_prosg_long-s{seed}-main.json",
    log:
        "logs/train_prosg_long/s{seed}-main.log",
    benchmark:
        "benchmarks/train_prosg_long/s{seed}-main.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.update", "prosg.train", "prosg.tune.families", "prosg.variants"),
    shell:
        "python -m lmrepro.stages.train_prosg --seed {wildcards.seed} --variant main --label main-long-base"
        " --examples {input.examples} --base {input.base} --trials {input.trials} --out {output.generator}"
        " --metrics {output.metrics} --timing {output.timing} {params.cfg} --log {log}"


rule eval_prosg:
    input:
        examples=rules.build_prosg_data.output.table,
        base=rules.pretrain_rnn.output.model,
        generators=expand(
            rules.train_prosg.output.generator,
            variant=PROSG_VARIANTS,
            allow_missing=True,
        ),
        code=code_of("stages.eval_prosg"),
    output:
        predictions="data/prosg/eval/preds-s{seed}.parquet",
        timing="reports/prosg/timing/eval_prosg-s{seed}.json",
        metrics="reports/metrics/prosg/eval-s{seed}.json",
    log:
        "logs/eval_prosg/s{seed}.log",
    benchmark:
        "benchmarks/eval_prosg/s{seed}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.eval"),
    shell:
        "python -m lmrepro.stages.eval_prosg --seed {wildcards.seed} --examples {input.examples} --base {input.base}"
        " --generators {input.generators} --predictions {output.predictions} --timing {output.timing}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


rule eval_prosg_long:
    input:
        examples=rules.build_prosg_data.output.table,
        base=rules.pretrain_rnn_long.output.model,
        generator=rules.train_prosg_long.output.generator,
        code=code_of("stages.eval_prosg_long"),
    output:
        predictions="data/prosg/eval/preds_long-s{seed}.parquet",
        timing="reports/prosg/timing/eval_prosg_long-s{seed}.json",
        metrics="reports/metrics/prosg/eval_long-s{seed}.json",
    log:
        "logs/eval_prosg_long/s{seed}.log",
    benchmark:
        "benchmarks/eval_prosg_long/s{seed}.tsv"
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.eval.batch_size"),
    shell:
        "python -m lmrepro.stages.eval_prosg_long --seed {wildcards.seed} --examples {input.examples}"
        " --base {input.base} --generator {input.generator} --predictions {output.predictions}"
        " --timing {output.timing} --metrics {output.metrics} {params.cfg} --log {log}"


rule summarize_prosg:
    input:
        predictions=expand(rules.eval_prosg.output.predictions, seed=PROSG_SEEDS),
        long_predictions=expand(
            rules.eval_prosg_long.output.predictions, seed=PROSG_SEEDS
        ),
        evals=expand(rules.eval_prosg.output.metrics, seed=PROSG_SEEDS),
        code=code_of("stages.summarize_prosg"),
    output:
        pooled="data/prosg/preds.parquet",
        table="data/prosg/eval/accuracy.parquet",
        figure=report(
            "reports/prosg/accuracy_vs_distance.png",
            caption="../report/prosg.rst",
            category="ProSG",
        ),
        long_figure=report(
            "reports/prosg/long_base.png",
            caption="../report/prosg_long_base.rst",
            category="ProSG",
        ),
        markdown=report(
            "reports/prosg/accuracy.md",
            caption="../report/prosg_table.rst",
            category="ProSG",
        ),
        metrics="reports/metrics/prosg/eval.json",
    log:
        "logs/summarize_prosg/summarize_prosg.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("prosg.seeds", "claims"),
    shell:
        "python -m lmrepro.stages.summarize_prosg --predictions {input.predictions} {input.long_predictions}"
        " --evals {input.evals} --pooled {output.pooled} --table {output.table} --figure {output.figure}"
        " --long-figure {output.long_figure} --markdown {output.markdown}"
        " --metrics {output.metrics} {params.cfg} --log {log}"


EVALUATE_INPUTS.extend(
    [
        rules.build_prosg_data.output.metrics,
        *expand(rules.pretrain_rnn.output.metrics, seed=PROSG_SEEDS),
        *expand(
            rules.train_prosg.output.metrics, seed=PROSG_SEEDS, variant=PROSG_VARIANTS
        ),
        *expand(rules.eval_prosg.output.metrics, seed=PROSG_SEEDS),
        rules.summarize_prosg.output.metrics,
        *expand(rules.pretrain_rnn_long.output.metrics, seed=PROSG_SEEDS),
        *expand(rules.train_prosg_long.output.metrics, seed=PROSG_SEEDS),
        *expand(rules.eval_prosg_long.output.metrics, seed=PROSG_SEEDS),
        *expand(
            rules.tune_prosg.output.metrics,
            variant=list(PROSG_TUNE["families"]),
            lr=PROSG_TUNE_LRS,
        ),
    ]
)
REPORT_INPUTS.extend(
    [
        rules.summarize_prosg.output.markdown,
        rules.summarize_prosg.output.figure,
        rules.summarize_prosg.output.long_figure,
        rules.summarize_prosg.output.table,
        rules.summarize_prosg.output.pooled,  # paired per-item outcomes for the claims
        *expand(rules.pretrain_rnn.output.timing, seed=PROSG_SEEDS),
        *expand(
            rules.train_prosg.output.timing, seed=PROSG_SEEDS, variant=PROSG_VARIANTS
        ),
        *expand(rules.eval_prosg.output.timing, seed=PROSG_SEEDS),
        *expand(rules.pretrain_rnn_long.output.timing, seed=PROSG_SEEDS),
        *expand(rules.train_prosg_long.output.timing, seed=PROSG_SEEDS),
        *expand(rules.eval_prosg_long.output.timing, seed=PROSG_SEEDS),
        *expand(
            rules.tune_prosg.output.timing,
            variant=list(PROSG_TUNE["families"]),
            lr=PROSG_TUNE_LRS,
        ),
    ]
)
CLAIM_INPUTS.append(rules.summarize_prosg.output.pooled)
