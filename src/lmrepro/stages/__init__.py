"""One thin command per pipeline stage: ``python -m lmrepro.stages.<stage>``.

Snakemake rules (``shell:``) and DVC stages (``cmd:``) both call these; the logic lives
in the track packages, the plumbing in :mod:`lmrepro.stage`.
"""
