"""Import tracer for the end-to-end tests (put this folder first on PYTHONPATH).

Python imports ``sitecustomize`` at start-up, before any user code. When
LMREPRO_IMPORT_LOG names a folder and the process runs a stage
(``python -m lmrepro.stages.<name>``), an exit hook writes which lmrepro source files the
process loaded, so a test can compare them with the rule's declared code inputs.
It is registered first, so it runs last: everything the stage imported is in sys.modules.
"""

import atexit
import json
import os
import sys
from pathlib import Path


def _write_import_log() -> None:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", "") or ""
    if not name.startswith("lmrepro.stages."):
        return
    package = Path(sys.modules["lmrepro"].__file__).resolve().parent
    root = package.parent.parent
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(package):
            files.add(str(Path(path).resolve().relative_to(root)))
    out = Path(os.environ["LMREPRO_IMPORT_LOG"])
    out.mkdir(parents=True, exist_ok=True)
    record = {"module": name, "argv": sys.argv[1:], "files": sorted(files)}
    (out / f"{os.getpid()}.json").write_text(json.dumps(record, indent=1))


if os.environ.get("LMREPRO_IMPORT_LOG"):
    atexit.register(_write_import_log)
