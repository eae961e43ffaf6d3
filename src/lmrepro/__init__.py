"""lmrepro: one-command reproduction of four small-language-model papers.

The package holds all logic; Snakemake rules and DVC stages only wire files to the
thin command-line stages in :mod:`lmrepro.stages`.
"""

__version__ = "0.1.0"
