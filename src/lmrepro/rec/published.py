"""What the rec track takes from papers besides their numbers: the column order of the
TIGER-table rows and the SASRec paper's training setting.

The published rows themselves are data of a dataset entry (params
data.rec.sources.<name>.peers, in this column order): the results table and the protocol
check both read them from there, so a number lives in one place and a user's own dataset
brings its own rows."""

from __future__ import annotations

TIGER_COLS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")  # catalog.PEER_COLUMNS: Recall@k = HR@k with one target per user

# The SASRec paper's setting for the sparse Amazon datasets (Kang & McAuley 2018, section
# IV; the authors' code kang205/SASRec: 201 epochs, batch 128, Adam lr 0.001), set beside
# ours in the protocol check. "loss" is the paper's one sampled negative with binary
# cross-entropy; "epochs" the code's default epoch count.
# The LightLM code's training batch and AdamW rate, set beside ours in the report's scale line.
LIGHTLM_OFFICIAL_TRAIN = {"batch_size": 64, "lr": 1e-3}

SASREC_PAPER = {"hidden": 50, "blocks": 2, "heads": 1, "max_len": 50, "dropout": 0.5, "loss": "bce",
                "epochs": 201, "batch_size": 128, "lr": 0.001}
