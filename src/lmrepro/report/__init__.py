"""The report the `evaluate` stage assembles: every metric the pipeline computed,
collected into reports/ (results.md, claims, summary, timing, provenance).

Named report, not evaluate: the per-track scoring lives in ``<track>/scoring.py``; this
package only gathers and renders. The stage keeps the name ``evaluate``.
"""
