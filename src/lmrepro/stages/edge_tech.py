"""Stage edge_tech: NVMExplorer's NVSim characterizations -> one validated technology table."""

from dataclasses import asdict
from pathlib import Path

from lmrepro import io
from lmrepro.edge import tech
from lmrepro.edge.schemas import FailedTech, TechTable
from lmrepro.stage import Stage

stage = Stage(track="edge", name="edge_tech")
stage.add_argument("--raw", type=Path, required=True, help="fetched energy folder (data/raw/energy)")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--failed", type=Path, required=True, help="table of characterizations NVSim could not build")
stage.add_argument("--metrics", type=Path, required=True)


@stage.main
def main(ctx) -> None:
    cfg = ctx.config(tech.TechConfig, "edge.tech")
    folder = ctx.args.raw / "nvmexplorer"
    table, failed = tech.build_table(folder, cfg)  # checks every file first (clear error naming the key)
    for name in cfg.files.values():
        ctx.log_input(folder / name, context="raw")
    table = io.write_table(table, ctx.args.out, TechTable)
    io.write_table(failed, ctx.args.failed, FailedTech)
    metrics = {"valid_arrays": len(table), "failed_arrays": len(failed)}
    for t in sorted(set(table.technology)):
        for key in ("read_energy_pj", "write_energy_pj", "leakage_mw", "area_mm2", "read_latency_ns"):
            rows = table[(table.technology == t) & (table.target == "ReadEDP") & (table.cell_case == "best")]
            if len(rows):
                metrics[f"{t}.ReadEDP.best.{key}"] = float(rows[key].iloc[0])
    ctx.log.info("technology table: %d arrays, %d failed (%s)", len(table), len(failed),
                 sorted(set(failed.technology)) if len(failed) else "none")
    ctx.log_metrics({k: v for k, v in metrics.items()})
    io.write_json({"config": asdict(cfg), **metrics}, ctx.args.metrics)


if __name__ == "__main__":
    stage.run()
