"""The one base of every table schema the stages validate (pandera).

Why one base: each table is checked on write and on read, and the checks are only as good
as two settings that every schema must carry: ``strict`` (an unexpected column is an
error, so a renamed or misspelt column cannot slip through as an extra) and ``coerce``
(dtypes are brought to the declared ones, so a parquet round trip cannot change what a
later stage computes). Written once here, no schema can forget one of them; a subclass's
own ``Config`` adds to this one (pandera merges them), e.g. ``unique = [...]``.
"""

from __future__ import annotations

import pandera.pandas as pa


class StrictTable(pa.DataFrameModel):
    """Strict, coerced table; subclass it and declare the columns."""

    class Config:
        strict = True
        coerce = True
