"""The export's file formats: each turns chunks of rows into bytes as they come (CSV, NDJSON,
Parquet row groups), holding nothing but the chunk in hand.

Values are written as the JSON API writes them: decimals digit for digit, timestamps in UTC
with a `Z`. Parquet keeps decimals as `decimal128(38, 8)`: prices are stored as
NUMERIC(38, 8), so they always fit exactly; market cap, volume and percent change are stored
unscaled (|x| < 1e30, see domain/limits.py), and the rare one with more than 8 decimal places
is rounded half-even to 8 in Parquet only (the file's metadata `kasparro:rounded_values`
counts them); CSV and NDJSON keep every digit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from operator import itemgetter
from typing import Any, Literal, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from kasparro.domain.exact_json import exact_default

Kind = Literal["text", "time", "decimal", "int"]
Columns = tuple[tuple[str, Kind], ...]
Format = Literal["parquet", "csv", "ndjson"]

RAW_COLUMNS: Columns = (
    ("asset_id", "text"), ("observed_at", "time"), ("source", "text"),
    ("source_coin_id", "text"), ("ticker", "text"), ("price_usd", "decimal"),
    ("market_cap_usd", "decimal"), ("volume_24h_usd", "decimal"),
    ("percent_change_24h", "decimal"),
)  # fmt: skip
CANDLE_COLUMNS: Columns = (
    ("asset_id", "text"), ("start", "time"), ("end", "time"), ("open", "decimal"),
    ("high", "decimal"), ("low", "decimal"), ("close", "decimal"),
    ("market_cap_usd", "decimal"), ("volume_24h_usd", "decimal"), ("count", "int"),
)  # fmt: skip
MEDIA_TYPES: dict[Format, str] = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
}
Row = dict[str, Any]


def columns_of(interval: str) -> Columns:
    return RAW_COLUMNS if interval == "raw" else CANDLE_COLUMNS


class FormatWriter(Protocol):
    """Bytes for the start of the file, for each chunk of rows, and for its end."""

    def begin(self) -> bytes: ...

    def chunk(self, rows: Sequence[Row]) -> bytes: ...

    def finish(self) -> bytes: ...


def _time_text(value: datetime) -> str:
    """As orjson writes an aware UTC datetime with OPT_UTC_Z (the JSON API)."""
    return value.isoformat().replace("+00:00", "Z")


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")  # as exact_default writes a number


def _time_text_or_none(value: datetime | None) -> str | None:
    return None if value is None else _time_text(value)


# csv.writer writes None as an empty cell and str() of the rest, which is right for text and
# integers; a Decimal's str() may be scientific (`1E+3`), so decimals and instants go through
# these first.
_CSV_TEXT: dict[Kind, Callable[[Any], Any] | None] = {
    "text": None,
    "int": None,
    "decimal": _decimal_text,
    "time": _time_text_or_none,
}


class CsvWriter:
    """A header row, then one row per record; an empty cell for null."""

    def __init__(self, columns: Columns) -> None:
        self.names = [name for name, _ in columns]
        self.cells = [(name, _CSV_TEXT[kind]) for name, kind in columns]

    def _lines(self, rows: Any) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue().encode()

    def begin(self) -> bytes:
        return self._lines([self.names])

    def chunk(self, rows: Sequence[Row]) -> bytes:
        columns = []  # column by column: map() and itemgetter loop in C, not per row in Python
        for name, text in self.cells:
            values = list(map(itemgetter(name), rows))
            columns.append(values if text is None else list(map(text, values)))
        return self._lines(zip(*columns, strict=True))

    def finish(self) -> bytes:
        return b""


_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


class NdjsonWriter:
    """One JSON object per line, as the JSON API encodes it; nothing for an empty export."""

    def __init__(self, columns: Columns) -> None:
        self.names = [name for name, _ in columns]

    def begin(self) -> bytes:
        return b""

    def chunk(self, rows: Sequence[Row]) -> bytes:
        names = self.names
        lines = [
            orjson.dumps({n: row[n] for n in names}, default=exact_default, option=_JSON_OPTIONS)
            for row in rows
        ]
        return b"\n".join(lines) + b"\n" if lines else b""

    def finish(self) -> bytes:
        return b""


DECIMAL = pa.decimal128(38, 8)
_ARROW_TYPES: dict[Kind, pa.DataType] = {
    "text": pa.string(),
    "time": pa.timestamp("us", tz="UTC"),
    "decimal": DECIMAL,
    "int": pa.int64(),
}
_EIGHT_PLACES = Decimal("1e-8")
_WIDE = Context(prec=60)  # 30 digits before the point and 8 after: more than the default 28


class _Drain:
    """A write-only file for pyarrow whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class ParquetWriter:
    """One row group per chunk, drained as soon as it is written."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self.schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in columns])
        self.sink = _Drain()
        self.rounded = 0
        self.writer: pq.ParquetWriter | None = None

    def begin(self) -> bytes:
        self.writer = pq.ParquetWriter(pa.PythonFile(self.sink, mode="w"), self.schema)
        return self.sink.take()

    def _decimals(self, values: list[Decimal | None]) -> pa.Array:
        try:
            return pa.array(values, type=DECIMAL)
        except pa.ArrowInvalid:  # more than 8 places (an unscaled column): round, and count
            fitted = [None if v is None else _round(v) for v in values]
            self.rounded += sum(1 for v, f in zip(values, fitted, strict=True) if v != f)
            return pa.array(fitted, type=DECIMAL)

    def _array(self, name: str, kind: Kind, rows: Sequence[Row]) -> pa.Array:
        values = [row[name] for row in rows]
        if kind == "decimal":
            return self._decimals(values)
        return pa.array(values, type=_ARROW_TYPES[kind])

    def chunk(self, rows: Sequence[Row]) -> bytes:
        assert self.writer is not None, "begin() first"
        arrays = [self._array(name, kind, rows) for name, kind in self.columns]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        return self.sink.take()

    def finish(self) -> bytes:
        assert self.writer is not None, "begin() first"
        self.writer.add_key_value_metadata({"kasparro:rounded_values": str(self.rounded)})
        self.writer.close()
        return self.sink.take()


def _round(value: Decimal) -> Decimal:
    return value.quantize(_EIGHT_PLACES, ROUND_HALF_EVEN, _WIDE)


WRITERS: dict[Format, Callable[[Columns], FormatWriter]] = {
    "parquet": ParquetWriter,
    "csv": CsvWriter,
    "ndjson": NdjsonWriter,
}


def writer_for(fmt: Format, interval: str) -> FormatWriter:
    return WRITERS[fmt](columns_of(interval))
