"""The export's Parquet format: one row group per chunk of rows, drained as soon as it is
written. Decimals are `decimal128(38, 8)`; a value with more than 8 decimal places (an unscaled
column) is rounded half-even to 8, and the file's metadata `kasparro:rounded_values` counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kasparro.services.export_formats import Columns, Kind, Row

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
