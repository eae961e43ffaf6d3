# lmrepro: one command rebuilds every result of four papers from raw data.
#   snakemake --cores all                                   default (CPU) profile
#   snakemake --cores 2 --configfile params.yaml workflow/profiles/smoke/params.yaml
# The wiring lives in workflow/rules/*.smk, the logic in src/lmrepro.
from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/prosg.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        rules.evaluate.output,
