"""A test stage that writes an output, then sleeps or fails on request."""

import atexit
import time
from pathlib import Path

from lmrepro import io
from lmrepro.stage import Stage

stage = Stage(track="data", name="sleepy")
stage.add_argument("--out", type=Path, required=True)
stage.add_argument("--sleep", type=float, default=0.0)
stage.add_argument("--fail-after-write", action="store_true")
stage.add_argument("--at-exit", type=Path, default=None, help="an exit handler writes this file")


@stage.main
def main(ctx) -> None:
    if ctx.args.at_exit is not None:
        atexit.register(ctx.args.at_exit.write_text, "exit handler ran")
    print("buffered line on stdout", end="")
    io.write_json({"seed": ctx.seed}, ctx.args.out)
    ctx.log_metrics({"loss": 1.0}, step=0)
    (ctx.args.out.parent / "started").write_text("1")
    time.sleep(ctx.args.sleep)
    if ctx.args.fail_after_write:
        raise RuntimeError("simulated bug after writing an output")


if __name__ == "__main__":
    stage.run()
