"""Data frames in and out: pandas, polars, Arrow and plain columns to Arrow or JSON, Arrow to pandas.

Everything the user hands in goes through Arrow first (``as_arrow``): one place decides what a
pandas NaN, a polars null or a naive datetime means. JSON bodies are then built from Arrow's Python
values (``json_columns``), so an int64 beyond 2^53 can be sent as a decimal string, as the server
asks, and a timestamp as ISO-8601 UTC.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any, Callable, Dict, List, Optional

import pandas as pd
import pyarrow as pa

from .errors import TributaryError

# Integers beyond this are sent as decimal strings: a JSON number would be rounded by the parser.
MAX_SAFE_INTEGER = 2**53 - 1


def _is_polars(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith("polars")


def as_arrow(obj: Any, what: str) -> pa.Table:
    """A pandas or polars DataFrame, an Arrow Table or RecordBatch, a dict of columns or a list of
    row dicts, as an Arrow table."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all()
    if isinstance(obj, pd.DataFrame):
        # NaN, None, NaT and pd.NA all become Arrow nulls (pandas' meaning of them: missing).
        return pa.Table.from_pandas(obj, preserve_index=False)
    if _is_polars(obj) and hasattr(obj, "to_arrow"):
        if type(obj).__name__ == "LazyFrame":
            obj = obj.collect()
        return obj.to_arrow()
    if isinstance(obj, dict):
        return pa.table({name: _column(values) for name, values in obj.items()})
    if isinstance(obj, list) and all(isinstance(row, dict) for row in obj):
        return pa.Table.from_pylist(obj)
    raise TypeError(
        f"{what} must be a pandas or polars DataFrame, a pyarrow Table or RecordBatch, a dict of "
        f"columns or a list of row dicts, not {type(obj).__name__}"
    )


def _column(values: Any) -> Any:
    if isinstance(values, (pa.Array, pa.ChunkedArray, pd.Series)):
        return values
    return list(values)


def json_value(value: Any, where: Callable[[], str]) -> Any:
    """One Python value as the server's JSON takes it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (dt.datetime, dt.date)):
        value = value.item()  # a numpy scalar
        if value is None or isinstance(value, (bool, str)):
            return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None  # pandas' missing value
        if math.isinf(value):
            raise TributaryError("TRIB_NOT_FINITE", f"{where()} is {value}: JSON has no infinity")
        return value
    if isinstance(value, decimal.Decimal):
        return json_value(float(value), where)
    if isinstance(value, dt.datetime):
        if pd.isna(value):
            return None
        return iso_utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_value(v, lambda k=k: f"{where()}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, lambda i=i: f"{where()}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where()} is a {type(value).__name__}, which has no JSON form the server takes")


def iso_utc(value: dt.datetime) -> str:
    """ISO-8601 in UTC with ``Z``; a naive datetime is taken as UTC (as the server takes it)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"


def json_columns(table: pa.Table) -> Dict[str, List[Any]]:
    """An Arrow table as ``{column: [values]}`` of JSON values."""
    columns: Dict[str, List[Any]] = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        columns[name] = [json_value(v, lambda i=i, name=name: f"{name}[{i}]") for i, v in enumerate(values)]
    return columns


def _pandas_type(arrow_type: pa.DataType) -> Optional[Any]:
    # Nullable pandas types for the Arrow types whose NumPy form cannot hold a null.
    if pa.types.is_integer(arrow_type):
        return {
            pa.int8(): pd.Int8Dtype(),
            pa.int16(): pd.Int16Dtype(),
            pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(),
            pa.uint8(): pd.UInt8Dtype(),
            pa.uint16(): pd.UInt16Dtype(),
            pa.uint32(): pd.UInt32Dtype(),
            pa.uint64(): pd.UInt64Dtype(),
        }.get(arrow_type)
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Int columns as nullable ``Int64`` (not float64 with NaN), bools as ``boolean``, timestamps
    tz-aware in UTC, floats as float64 (null as NaN), strings as objects."""
    return table.to_pandas(types_mapper=_pandas_type, timestamp_as_object=False)


def rows_of(table: pa.Table) -> List[Dict[str, Any]]:
    return table.to_pylist()
