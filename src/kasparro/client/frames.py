"""Rows of a model as a pandas or polars DataFrame, one column per scalar field.

Amounts stay exact: pandas has no decimal dtype, so they are `object` columns of `Decimal`s
(arithmetic on them is exact; `floats=True` gives `float64` instead); polars gets its own
`Decimal(38, scale)` dtype, the scale the largest in the column, so no digit is lost. Instants
are UTC datetimes (`datetime64[…, UTC]`, polars `Datetime("us", "UTC")`). Nested fields (an
asset's `sources`, its `consensus`) are left to the objects.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from decimal import Decimal
from types import ModuleType
from typing import Any

from kasparro.client.decode import Kind, field_kinds


def _library(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"to_{name}() needs {name}: pip install 'kasparro[{name}]' (or pip install {name})"
        ) from exc


Columns = dict[str, tuple[Kind, list[Any]]]


def _columns(rows: Sequence[Any], model: type[Any], floats: bool) -> Columns:
    columns: Columns = {}
    for name, kind in field_kinds(model).items():
        if kind in ("model", "models"):
            continue
        values = [getattr(row, name) for row in rows]
        if kind == "amount" and floats:
            values = [None if v is None else float(v) for v in values]
        columns[name] = (kind, values)
    return columns


def to_pandas(rows: Sequence[Any], model: type[Any], floats: bool) -> Any:
    pd = _library("pandas")
    columns = _columns(rows, model, floats)
    data = {
        name: _pandas_column(pd, kind, values, floats) for name, (kind, values) in columns.items()
    }
    return pd.DataFrame(data, columns=list(columns))


def _pandas_column(pd: ModuleType, kind: Kind, values: list[Any], floats: bool) -> Any:
    if kind == "instant":
        return pd.Series(pd.to_datetime(values, utc=True))
    if kind == "amount":
        return pd.Series(values, dtype="float64" if floats else object)
    if kind == "int":
        return pd.Series(values, dtype="Int64" if None in values else "int64")
    if kind == "flag":
        return pd.Series(values, dtype="bool")
    if kind == "texts":
        return pd.Series([list(v) for v in values], dtype=object)
    return pd.Series(values, dtype=None if kind == "text" and values else object)


def to_polars(rows: Sequence[Any], model: type[Any], floats: bool) -> Any:
    pl = _library("polars")
    columns = _columns(rows, model, floats)
    series = [
        pl.Series(name, values if kind != "texts" else [list(v) for v in values],
                  dtype=_polars_dtype(pl, kind, values, floats))
        for name, (kind, values) in columns.items()
    ]  # fmt: skip
    return pl.DataFrame(series)


def _polars_dtype(pl: ModuleType, kind: Kind, values: list[Any], floats: bool) -> Any:
    if kind == "amount":
        return pl.Float64 if floats else pl.Decimal(38, _scale(values))
    dtypes = {
        "instant": pl.Datetime("us", "UTC"), "int": pl.Int64, "text": pl.String,
        "flag": pl.Boolean, "texts": pl.List(pl.String),
    }  # fmt: skip
    return dtypes.get(kind, pl.Object)


def _scale(values: list[Decimal | None]) -> int:
    """The most decimal places in the column: the scale that keeps every digit."""
    places = [-int(v.as_tuple().exponent) for v in values if v is not None and v.is_finite()]
    return max([0, *places])
