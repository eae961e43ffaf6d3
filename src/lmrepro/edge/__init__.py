"""Edge track: adapter-ALBERT on heterogeneous on-chip memory (papers.md section 4)."""
