"""Stage fetch: verified copies of one manifest group's raw files (mirror or origin)."""

from pathlib import Path

from lmrepro.data.manifest import fetch_group, read_manifest
from lmrepro.paths import data_mirror, repo_file
from lmrepro.stage import Stage

stage = Stage(track="data", name="fetch", wildcards=("group",))
stage.add_argument("--group", required=True, help="top folder of the manifest paths: rec, nlu, text, energy")
stage.add_argument("--out", type=Path, required=True, help="folder to fill (replaced as a whole)")


@stage.main
def main(ctx) -> None:
    # relative params paths mean the repository root, whichever folder the stage runs in
    mirror = data_mirror(ctx.section("data.mirror"), ctx.root)
    manifest = repo_file(ctx.section("data.manifest"), ctx.root)
    entries = read_manifest(manifest)
    ctx.log.info("fetching group %s from mirror %s (manifest %s)", ctx.args.group, mirror, manifest)
    fetched = fetch_group(entries, ctx.args.group, mirror, ctx.args.out)
    for entry in fetched:
        ctx.log.info("  %s  %s  %d bytes  (%s)", entry.sha256[:12], entry.path, entry.bytes, entry.license)
    ctx.set_tags({"data.files": len(fetched), "data.mirror": str(mirror)})
    ctx.log_metrics({"files": len(fetched), "bytes": sum(e.bytes for e in fetched)})


if __name__ == "__main__":
    stage.run()
