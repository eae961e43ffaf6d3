# lmrepro: one command rebuilds every result of four papers from raw data.
#   snakemake --cores all                                   default (CPU) profile
#   snakemake --cores 2 --configfile params.yaml workflow/profiles/smoke/params.yaml
# The wiring lives in workflow/rules/*.smk, the logic in src/lmrepro.
# Software: every rule names the one pinned env workflow/envs/lmrepro.yaml (`conda:`,
# generated from requirements.lock by `python -m lmrepro.condaenv write`). A plain run
# uses the active environment (`make install`'s .venv, the same pins); with
# `--sdm conda` Snakemake builds that env instead. Either way one software stack for all.
from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:
    group="rec|nlu|text|energy",
    dataset=DATASET_PATTERN,


include: "workflow/rules/data.smk"
include: "workflow/rules/rec.smk"
include: "workflow/rules/mta.smk"
include: "workflow/rules/prosg.smk"
include: "workflow/rules/edge.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        rules.evaluate.output,


onstart:
    shell("python -m lmrepro.tracking init")


# dvc.lock gets exactly the stages this invocation ran or verified (lmrepro.dvcgen),
# never outputs that another profile or an older run left behind.
onsuccess:
    shell("python -m lmrepro.tracking summary")
    if uses_default_params():
        from lmrepro.dvcgen import record_invocation

        record_invocation(workflow, ROOT)
    else:
        print(
            "lmrepro: dvc.lock left as it was: this run used a profile overlay or --config, "
            "so its outputs do not correspond to params.yaml."
        )


onerror:
    shell("python -m lmrepro.tracking summary --status FAILED")
