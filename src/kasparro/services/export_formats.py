"""The export's file formats: each turns chunks of rows into bytes as they come (CSV, NDJSON,
Parquet row groups), holding nothing but the chunk in hand. Parquet lives in `export_parquet`,
imported only when a Parquet file is asked for (pyarrow costs ~70 MiB of memory).

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
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal, Protocol

import orjson

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


def _parquet(columns: Columns) -> FormatWriter:
    # pyarrow is imported only when a Parquet file is written: it costs ~70 MiB of memory,
    # which every other command (an ETL run above all) would carry for nothing
    from kasparro.services.export_parquet import ParquetWriter

    return ParquetWriter(columns)


WRITERS: dict[Format, Callable[[Columns], FormatWriter]] = {
    "parquet": _parquet,
    "csv": CsvWriter,
    "ndjson": NdjsonWriter,
}


def writer_for(fmt: Format, interval: str) -> FormatWriter:
    return WRITERS[fmt](columns_of(interval))
