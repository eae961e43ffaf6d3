"""Stage rec_protocol: the protocol check (lmrepro.rec.protocol) of every dataset in
rec.protocol_check.datasets, from the rec_peer runs of that params block (SASRec and
MostPop on all users, TIGER protocol) and the dataset's published rows (params
data.rec.sources.<dataset>.peers) -> reports/rec/protocol_check.json, which the report's
LightLM section shows next to the TIGER-table rows."""

from pathlib import Path

from lmrepro import io
from lmrepro.data.catalog import rec_sources
from lmrepro.data.schemas import RecInteractions
from lmrepro.errors import LmreproError
from lmrepro.rec.data import Catalog, subset_users
from lmrepro.rec.protocol import ProtocolCheckConfig, check, unseen_test_share
from lmrepro.stage import Stage

stage = Stage(track="rec", name="rec_protocol")
stage.add_argument("--interactions", type=Path, nargs="+", required=True, help="data/rec/<dataset>.parquet")
stage.add_argument("--peers", type=Path, nargs="+", required=True,
                   help="rec_peer metrics files named protocol-<dataset>-<peer>.json")
stage.add_argument("--out", type=Path, required=True)


def _peer_files(paths: list[Path], datasets: list[str]) -> dict[str, dict[str, Path]]:
    """{dataset: {peer: metrics file}} from names protocol-<dataset>-<peer>.json."""
    out: dict[str, dict[str, Path]] = {d: {} for d in datasets}
    for path in paths:
        parts = path.stem.split("-")
        if len(parts) != 3 or parts[0] != "protocol" or parts[1] not in out:
            raise LmreproError(f"{path}: expected protocol-<dataset>-<peer>.json with a dataset of "
                               f"rec.protocol_check.datasets {datasets}")
        out[parts[1]][parts[2]] = path
    missing = [d for d, p in out.items() if not p]
    if missing:
        raise LmreproError(f"rec_protocol: no peer metrics for dataset(s) {missing} (--peers)")
    return out


@stage.main
def main(ctx) -> None:
    a = ctx.args
    cfg = ctx.config(ProtocolCheckConfig, "rec.protocol_check")
    # each checked dataset's own entry only (the rule passes just those keys)
    sources = rec_sources({d: ctx.section(f"data.rec.sources.{d}") for d in cfg.datasets})
    tables = {p.stem: p for p in a.interactions}
    records = []
    for dataset, files in _peer_files(a.peers, cfg.datasets).items():
        if dataset not in tables:
            raise LmreproError(f"rec_protocol: no --interactions file data/rec/{dataset}.parquet")
        ctx.log_input(tables[dataset], context="evaluation")
        full = io.read_table(tables[dataset], RecInteractions)
        df = subset_users(full, cfg.subset["max_users"], cfg.subset["seed"])
        cat = Catalog.from_interactions(df)
        data = {"users": cat.n_users, "dataset_users": int(full["user"].nunique()), "items": cat.n_items,
                "interactions": len(df), "all_users": cat.n_users == full["user"].nunique(),
                "unseen_test_share": unseen_test_share(df)}
        rec = check(dataset, {peer: io.read_json(p) for peer, p in files.items()}, cfg, data,
                    published=sources[dataset].peers)
        for row in rec["peers"]:
            ctx.log.info("%s/%s: ours %s published %s within tolerance %s", dataset, row["peer"], row["ours"],
                         row["published"], row["within_tolerance"])
            ctx.log_metrics({f"{dataset}_{row['peer']}_test_{c.replace('@', '_at_')}": v for c, v in row["ours"].items()})
        records.append(rec)
    io.write_json({"datasets": records}, a.out)


if __name__ == "__main__":
    stage.run()
