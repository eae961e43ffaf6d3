"""Every table schema derives from the one strict base (lmrepro.schema.StrictTable)."""

from __future__ import annotations

import importlib
import inspect

import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from lmrepro.schema import StrictTable
from lmrepro.tracks import TRACKS

SCHEMA_MODULES = [f"lmrepro.{t}.schemas" for t in ("data", *TRACKS)]


def _models():
    for name in SCHEMA_MODULES:
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, pa.DataFrameModel) and cls.__module__ == name:
                yield cls


def test_every_schema_is_a_strict_coerced_table():
    models = list(_models())
    assert len(models) >= 15, [m.__name__ for m in models]
    for model in models:
        assert issubclass(model, StrictTable), f"{model.__module__}.{model.__name__}: derive from StrictTable"
        schema = model.to_schema()
        assert schema.strict is True and schema.coerce is True, model.__name__


def test_own_config_adds_to_the_base():
    class Pairs(StrictTable):
        a: Series[int]

        class Config:
            unique = ["a"]

    schema = Pairs.to_schema()
    assert (schema.strict, schema.coerce, schema.unique) == (True, True, ["a"])
    assert Pairs.validate(pd.DataFrame({"a": ["1", "2"]}))["a"].dtype.kind == "i"  # coerced
    with pytest.raises((pandera.errors.SchemaError, pandera.errors.SchemaErrors), match="extra"):
        Pairs.validate(pd.DataFrame({"a": [1], "extra": [2]}))
