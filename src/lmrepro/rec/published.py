"""Published full-data numbers the rec track is compared with (papers.md section 1).

One place for them, because two readers need them: the results table (report.py shows
the TIGER-table rows next to ours) and the protocol check (protocol.py compares our
SASRec trained on all users with the published SASRec row). Neither types a number."""

from __future__ import annotations

# TIGER paper, Table 1 (sequential setting, full data): Recall@5, NDCG@5, Recall@10, NDCG@10
TIGER_TABLE = {
    "beauty": {"P5": (0.0163, 0.0107, 0.0254, 0.0136), "SASRec": (0.0387, 0.0249, 0.0605, 0.0318),
               "TIGER": (0.0454, 0.0321, 0.0648, 0.0384)},
    "sports": {"P5": (0.0061, 0.0041, 0.0095, 0.0052), "SASRec": (0.0233, 0.0154, 0.0350, 0.0192),
               "TIGER": (0.0264, 0.0181, 0.0400, 0.0225)},
    "toys": {"P5": (0.0070, 0.0050, 0.0121, 0.0066), "SASRec": (0.0463, 0.0306, 0.0675, 0.0374),
             "TIGER": (0.0521, 0.0371, 0.0712, 0.0432)},
}
TIGER_COLS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")  # Recall@k = HR@k with one target per user

# The SASRec paper's setting for the sparse Amazon datasets (Kang & McAuley 2018, section
# IV; the authors' code kang205/SASRec: 201 epochs, batch 128, Adam lr 0.001), set beside
# ours in the protocol check. "loss" is the paper's one sampled negative with binary
# cross-entropy; "epochs" the code's default epoch count.
SASREC_PAPER = {"hidden": 50, "blocks": 2, "heads": 1, "max_len": 50, "dropout": 0.5, "loss": "bce",
                "epochs": 201, "batch_size": 128, "lr": 0.001}
