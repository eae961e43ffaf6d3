"""ProSG track: prompt synthetic gradients against prompt forgetting in an RNN-like LM.

Our interpretation of Luo et al. (arXiv 2311.01981): only the abstract is public, so the
dataset, the generator and the training objectives here are our reading of it (see
docs/papers.md section 3).
"""
