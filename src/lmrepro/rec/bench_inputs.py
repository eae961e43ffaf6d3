"""The real data both rec benchmarks run on: the raw Amazon Beauty sequences.

Why its own module: the index benchmark (bench.py) and the decode benchmark
(decode_bench.py) both read it; kept in bench.py, decode_bench.py had to import bench.py
while bench.py imported decode_bench.py, a loop.
"""

from __future__ import annotations

import functools
from pathlib import Path


def beauty_txt() -> Path:
    """The raw Beauty file: from the raw-data mirror (lmrepro.paths.data_mirror), else the
    data stage's verified copy (data/raw/rec)."""
    from lmrepro.paths import data_mirror, repo_root

    for base in (data_mirror(), repo_root() / "data" / "raw"):
        if (base / "rec" / "Beauty.txt").is_file():
            return base / "rec" / "Beauty.txt"
    raise FileNotFoundError("rec/Beauty.txt not found: set LMREPRO_DATA_MIRROR or run the data stage")


@functools.lru_cache(maxsize=1)
def beauty_sequences():
    """The interactions of rec/Beauty.txt (read once per process)."""
    from lmrepro.rec.data import read_sequences_txt

    return read_sequences_txt(beauty_txt())
