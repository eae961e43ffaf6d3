# Evaluation: every metric into reports/. Included last: the track rule files have
# extended EVALUATE_INPUTS and REPORT_INPUTS by now.
from lmrepro import dvcviews  # the headline and plot files DVC reads (lmrepro.dvcviews)


rule evaluate:
    input:
        metrics=EVALUATE_INPUTS,
        reports=REPORT_INPUTS,
        claims=CLAIM_INPUTS,
        registry=sorted(
            repo_path(p.relative_to(ROOT))
            for p in (ROOT / "workflow" / "claims").glob("*.yaml")
        ),
        claims_schema=repo_path("workflow/schemas/claims.schema.yaml"),
        results_schema=repo_path("workflow/schemas/claims_results.schema.yaml"),
        code=code_of("stages.evaluate"),
    output:
        json="reports/metrics.json",
        claims="reports/claims.json",
        md=report(
            "reports/results.md", caption="../report/results.rst", category="Results"
        ),
        summary="reports/summary.md",
        curves=report(
            "reports/figures/training_curves.png",
            caption="../report/curves.rst",
            category="Results",
        ),
        timing=report(
            "reports/timing.md", caption="../report/timing.rst", category="Results"
        ),
        provenance="reports/provenance.md",
        headline=dvcviews.headline_paths(),
        plots=dvcviews.plot_paths(),
    log:
        "logs/evaluate/evaluate.log",
    conda:
        "../envs/lmrepro.yaml"
    threads: THREADS
    params:
        cfg=cfg("claims", "profile", "data.rec.sources", "rec.ablations"),
    shell:
        "python -m lmrepro.stages.evaluate --metrics-files {input.metrics} --report-files {input.reports}"
        " --claim-files {input.claims} --out-claims {output.claims}"
        " --out-json {output.json} --out-md {output.md} --out-summary {output.summary} --curves {output.curves}"
        " --out-timing {output.timing} --out-provenance {output.provenance}"
        " --out-headline {output.headline} --out-plots {output.plots} {params.cfg} --log {log}"
