"""Stage rec_peer: classic peers on the same split and subset (MostPop)."""

from pathlib import Path

import numpy as np
import pandas as pd

from lmrepro import io
from lmrepro.data.schemas import RecInteractions
from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, heldout_items, interaction_matrix, subset_users
from lmrepro.rec.metrics import per_user_metrics, summarize, target_ranks
from lmrepro.rec.mostpop import mostpop_topk
from lmrepro.rec.schemas import UserMetrics
from lmrepro.stage import Stage

stage = Stage(track="rec", name="rec_peer", wildcards=("dataset", "peer"))
stage.add_argument("--dataset", required=True)
stage.add_argument("--peer", required=True)
stage.add_argument("--interactions", type=Path, required=True)
stage.add_argument("--per-user", type=Path, required=True)
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    a = ctx.args
    if a.peer != "mostpop":
        raise LmreproError(f"rec_peer: unknown peer {a.peer!r} (available: mostpop)")
    sub = ctx.section("rec.subset")
    k = ctx.section("rec.train.num_beams")
    ctx.log_input(a.interactions, context="training")
    df = subset_users(io.read_table(a.interactions, RecInteractions), sub["max_users"], sub["seed"])
    cat = Catalog.from_interactions(df)
    frames, metrics = [], {"params": 0, "users": cat.n_users}
    for split, seen in (("valid", ("train",)), ("test", ("train", "valid"))):
        top = mostpop_topk(interaction_matrix(df, cat, seen), k)
        ranks = target_ranks(np.tile(top, (cat.n_users, 1)), heldout_items(df, cat, split))
        per_user = per_user_metrics(cat.users, ranks)
        frames.append(per_user.assign(split=split))
        metrics.update({f"{split}_{m}": v for m, v in summarize(per_user).items()})
    per_user = pd.concat(frames, ignore_index=True)
    io.write_table(per_user[["split", *per_user.columns[:-1]]], a.per_user, UserMetrics)
    ctx.log_metrics({m.replace("@", "_at_"): v for m, v in metrics.items()})
    io.write_json(metrics, a.metrics)


if __name__ == "__main__":
    stage.run()
