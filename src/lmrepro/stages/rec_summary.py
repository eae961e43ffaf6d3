"""Stage rec_summary: the rec track's runs in one JSON (with the profile's scale) and the
test HR@10-vs-parameters figure, both declared outputs that the report section reads."""

from pathlib import Path

from lmrepro import io
from lmrepro.rec.summary import collect, hr10_vs_params
from lmrepro.stage import Stage

stage = Stage(track="rec", name="rec_summary")
for _name in ("index", "train", "timing", "peers", "peer-timing"):
    stage.add_argument(f"--{_name}", type=Path, nargs="*", default=[])
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--figure", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    a = ctx.args
    summary = collect(a.index, a.train, a.timing, a.peers, a.peer_timing, ctx.section("rec.ablations"))
    summary["scale"] = {
        "subset": ctx.section("rec.subset"),
        "train": ctx.section("rec.train"),
        "model": ctx.section("rec.model"),
        "sasrec": ctx.section("rec.peer.sasrec"),
        "eval": ctx.section("rec.eval"),
    }
    io.write_json(summary, a.out)
    hr10_vs_params(summary, a.figure)
    ctx.log.info("%d runs, %d peers", len(summary["runs"]), len(summary["peers"]))
    ctx.log_artifact(a.figure)


if __name__ == "__main__":
    stage.run()
