"""LightLM track: collaborative item indexing, deep-and-narrow generative recommender,
trie-constrained beam search (Mei & Zhang, arXiv 2310.17488; see docs/papers.md section 1)."""
