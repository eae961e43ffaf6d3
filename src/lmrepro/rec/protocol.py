"""The protocol check: do our split, candidate set and metrics agree with the literature?

Why: at the default profile the rec track trains on a user sample, where absolute numbers
cannot be compared with any paper. This check trains and evaluates the classic peers
(SASRec, MostPop; rec_peer stage, params block rec.protocol_check) on ALL users of a
dataset with the TIGER/P5 protocol (leave-one-out, full ranking over every item, HR/NDCG
@5 and @10) and sets the result beside the dataset's published SASRec row (params
data.rec.sources.<dataset>.peers, the TIGER table for the Amazon sets). If our
SASRec lands within `tolerance` (relative) of the published HR@10 and NDCG@10, the
protocol agrees; if not, the table says so and the differences in setting (epochs,
hidden size, loss, dropout: ours vs the SASRec paper) are listed next to it.

Also reported: the share of test targets never seen in the sample's train+valid rows (0
on full data in a 5-core dataset; large on small user samples, where it caps HR)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from lmrepro.errors import LmreproError
from lmrepro.rec.published import SASREC_PAPER, TIGER_COLS

PEER_PUBLISHED = {"sasrec": "SASRec", "sasrec_paper": "SASRec", "mostpop": None}  # our peer -> its TIGER-table row
CHECKED = ("hr@10", "ndcg@10")  # the metrics the tolerance applies to (issue 13)


@dataclass(frozen=True)
class ProtocolCheckConfig:
    datasets: list[str] = field(default_factory=lambda: ["beauty"])  # datasets with a published SASRec row
    subset: dict = field(default_factory=lambda: {"max_users": 0, "seed": 0})  # 0 = all users
    exclude_history: bool = False  # TIGER/P5: seen items stay candidates
    tolerance: float = 0.15  # relative gap to the published row that still counts as agreement
    sasrec: dict = field(default_factory=dict)  # SasRecConfig keys (rec.peer.sasrec's shape)
    # the SASRec paper's own setting (BCE, one negative; fewer epochs on CPU): measures how much
    # of a gap between our sasrec and the published row is the setting (loss, width, dropout)
    sasrec_paper: dict = field(default_factory=dict)

    def __post_init__(self):
        if not 0 < self.tolerance < 1:
            raise LmreproError(f"rec.protocol_check.tolerance={self.tolerance}: use a share in (0, 1)")


def unseen_test_share(df: pd.DataFrame) -> float:
    """Share of users whose test item appears in no train or valid row of `df` (the
    sample): targets no model trained on `df` can have learnt."""
    seen = set(df.loc[df["split"] != "test", "item"].unique())
    test = df.loc[df["split"] == "test", "item"].to_numpy()
    if not len(test):
        raise LmreproError("protocol check: the interactions have no 'test' rows")
    return float(np.mean([t not in seen for t in test]))


def published_rows(dataset: str, rows: Mapping[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
    """The dataset's published peer rows (data.rec.sources.<dataset>.peers), checked to
    hold every row a peer is compared with: the check means nothing without them."""
    missing = sorted({name for name in PEER_PUBLISHED.values() if name is not None and name not in rows})
    if missing:
        raise LmreproError(f"rec.protocol_check.datasets: {dataset} has no published {missing} row "
                           f"(data.rec.sources.{dataset}.peers has {sorted(rows) or 'none'}); "
                           "check only datasets with one")
    return dict(rows)


def check(dataset: str, peers: dict[str, dict], cfg: ProtocolCheckConfig, data: dict,
          published: Mapping[str, tuple[float, ...]]) -> dict:
    """peers: {peer: its rec_peer metrics JSON}; data: users/items/unseen share of the
    sample; published: the dataset's published rows (published_rows) in TIGER_COLS order.
    -> the protocol_check record for one dataset: per peer our test metrics, the
    published row (if any), the relative gaps and whether every checked gap is within
    tolerance; and our SASRec setting beside the paper's."""
    published = published_rows(dataset, published)
    rows = []
    for peer, m in sorted(peers.items()):
        if peer not in PEER_PUBLISHED:
            raise LmreproError(f"protocol check: unknown peer {peer!r} (known: {sorted(PEER_PUBLISHED)})")
        ours = {c: float(m[f"test_{c}"]) for c in TIGER_COLS}
        name = PEER_PUBLISHED[peer]
        row = {"peer": peer, "users": int(m["users"]), "ours": ours, "published_as": name,
               "published": None, "rel_gap": None, "within_tolerance": None}
        if name is not None:
            pub = dict(zip(TIGER_COLS, published[name]))
            gap = {c: (ours[c] - pub[c]) / pub[c] for c in TIGER_COLS}
            row.update(published=pub, rel_gap=gap,
                       within_tolerance=all(abs(gap[c]) <= cfg.tolerance for c in CHECKED))
        if "best_epoch" in m:
            row["best_epoch"] = int(m["best_epoch"])
        rows.append(row)
    setting = {k: {"ours": cfg.sasrec.get(k), "paper": v} for k, v in SASREC_PAPER.items()}
    out = {"dataset": dataset, **data, "exclude_history": cfg.exclude_history, "tolerance": cfg.tolerance,
           "checked": list(CHECKED), "peers": rows, "sasrec_setting": setting,
           "sasrec_differs": sorted(k for k, v in setting.items() if v["ours"] != v["paper"])}
    if "sasrec_paper" in peers:
        paper = {k: {"ours": cfg.sasrec_paper.get(k), "paper": v} for k, v in SASREC_PAPER.items()}
        out.update(sasrec_paper_setting=paper,
                   sasrec_paper_differs=sorted(k for k, v in paper.items() if v["ours"] != v["paper"]))
    return out
