"""The evaluate stage: every metric the pipeline computed, collected into reports/."""
