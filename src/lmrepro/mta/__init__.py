"""ALTER track: Mixture-of-Task-Adapters (MTA) with two-stage training on NLU tasks.

Paper: Xie et al., "ALTER: Auxiliary Text Rewriting Tool ... Mixture-of-Task-Adapters"
(arXiv 2309.11042). See shared/docs/papers.md section 2 for what we reproduce.

Modules, one purpose each: adapter (bottleneck layer), mixture (task-routed mixture),
fusion (AdapterFusion baseline), backbone (load/split a pretrained encoder), model (the
classifier that plugs either into the top blocks), features (cache of frozen lower
blocks), data (tokenized task batches), train (stage loops), methods (the compared
methods), metrics, export (bundle read by the edge track), bench, report.
"""
