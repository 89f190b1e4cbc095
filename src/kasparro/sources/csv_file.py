"""Stream a CSV file in batches, resuming after the last row a checkpoint recorded.

Memory stays flat: rows are read line by line and handed over a batch at a time.
A checkpoint holds the byte offset after the last processed row and the SHA-256
of every byte before it, so an appended file resumes where it stopped while a
replaced or edited file is recognised as a different file and starts over.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from kasparro.domain.limits import DEFAULT_MAX_FUTURE_SKEW, check_observed_at
from kasparro.domain.normalize import (
    InvalidValueError,
    normalize_amount,
    normalize_name,
    normalize_price,
    normalize_symbol,
    parse_decimal,
    parse_timestamp_cached,
)
from kasparro.domain.quote import Quote, keep_newest
from kasparro.domain.schema_drift import DriftFinding
from kasparro.errors import TerminalSourceError
from kasparro.sources.csv_columns import Columns, header_drift, map_header, rename_hints
from kasparro.sources.csv_open import open_csv

SOURCE_NAME = "csv"
# Reasons about the row's structure rather than its values; a replay keeps them as they were.
UNREADABLE_ROW = "unreadable CSV row"
INVALID_UTF8 = "invalid UTF-8 in row"
NUL_IN_ROW = "NUL character in row"
RAGGED_ROW = "row has"
LONG_LINE = "line longer than"
STRUCTURAL_ERRORS = (UNREADABLE_ROW, INVALID_UTF8, NUL_IN_ROW, RAGGED_ROW, LONG_LINE)
DEFAULT_MAX_LINE_BYTES = 1 << 20
DEFAULT_SETTLE_SECONDS = 2.0
_HASH_CHUNK = 1 << 20
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
# A header is a line of short names: anything bigger is not a CSV header, and matching it
# against the known names (or storing it as drift) would only cost time and index space.
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_CELL_CHARS = 200


@dataclass(frozen=True, slots=True)
class CsvPosition:
    """Checkpoint state: where in which file the last committed batch ended."""

    file_path: str
    generation: int
    row_number: int
    offset: int
    prefix_sha256: str

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CsvPosition | None:
        try:
            return cls(**state)
        except TypeError:
            return None


# A raw row in `raw_csv_records` column order: generation, row number, run id, cells as a
# JSON array, rejection reason. Built here, in the reader's thread, ready for COPY.
RawRow = tuple[int, int, int, str, str | None]


@dataclass(slots=True)
class CsvBatch:
    """Rows ready to load: raw rows for COPY, every quote and the newest per coin, the
    rejections."""

    raw: list[RawRow] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    latest: dict[str, Quote] = field(default_factory=dict)
    loaded: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    position: CsvPosition | None = None
    ends_batch: bool = True  # the last part of its batch: the checkpoint goes with it

    def add(self, row_number: int, quote: Quote | None, error: str | None) -> None:
        if quote is None:
            self.rejected.append((row_number, error or "rejected"))
            return
        self.loaded += 1
        self.quotes.append(quote)
        keep_newest(self.latest, quote)


@dataclass(frozen=True, slots=True)
class CsvLimits:
    """How far a CSV row may go: line length, timestamp skew, and when a last line is final."""

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW


class _LineFeed:
    """Yields decoded lines to `csv.reader` while tracking the byte offset and prefix hash.

    A line is read at most `max_line_bytes` at a time, so an endless line never sits in memory
    whole; a final line without a newline is held back while the file may still be growing.
    """

    def __init__(
        self, handle: BinaryIO, offset: int, hasher: Any, limits: CsvLimits, settled: Any
    ) -> None:
        self.handle = handle
        self.offset = offset
        self.hasher = hasher
        self.limits = limits
        self.settled = settled  # () -> bool: the file has not changed for settle_seconds
        self.bad_row: str | None = None  # set while reading a row that cannot be loaded
        self.truncated: str | None = None  # the stored cell of an overlong line

    def _take(self, line: bytes) -> None:
        self.offset += len(line)
        self.hasher.update(line)

    def _skip_rest(self) -> None:
        """Consume an overlong line up to and including its newline, chunk by chunk."""
        while chunk := self.handle.readline(self.limits.max_line_bytes):
            self._take(chunk)
            if chunk.endswith(b"\n"):
                return

    def _lines(self) -> Iterator[bytes]:
        limit = self.limits.max_line_bytes
        while line := self.handle.readline(limit + 1):
            if len(line) > limit and not line.endswith(b"\n"):
                self._take(line)
                self._skip_rest()
                self.bad_row = f"{LONG_LINE} {limit} bytes (stored truncated)"
                self.truncated = line[:limit].decode("utf-8", errors="replace")
                yield b'""\n'  # one empty cell: the row itself is the truncated text
                continue
            if not line.endswith(b"\n") and not self.settled():
                return  # maybe half a row still being written: the next run reads it whole
            self._take(line)
            yield line

    def __iter__(self) -> Iterator[str]:
        for line in self._lines():
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                self.bad_row = INVALID_UTF8
                text = line.decode("utf-8", errors="replace")
            if "\x00" in text:  # PostgreSQL text cannot hold NUL: keep the row, marked bad
                self.bad_row = NUL_IN_ROW
                text = text.replace("\x00", "\ufffd")
            yield text


def _prefix_hash(handle: BinaryIO, length: int) -> Any:
    hasher = hashlib.sha256()
    remaining = length
    while remaining > 0:
        chunk = handle.read(min(_HASH_CHUNK, remaining))
        if not chunk:
            break
        hasher.update(chunk)
        remaining -= len(chunk)
    return hasher


class CsvFileReader:
    """Reads `path` from where `previous` stopped (or from the top for a new file)."""

    def __init__(
        self,
        path: Path,
        previous: CsvPosition | None,
        next_generation: int,
        observed_default: datetime,
        run_id: int = 0,
        limits: CsvLimits = CsvLimits(),
    ) -> None:
        self.path = path
        self.limits = limits
        self.run_id = run_id  # stamped on every raw row
        self.header: list[str] = []
        self.previous = previous
        self.next_generation = next_generation
        self.observed_default = observed_default
        self.started_over = False
        self.header_drift: list[DriftFinding] = []
        self.handle: BinaryIO | None = None  # while reading: the file, or a gzip file's text

    def file_size(self) -> int:
        return self.path.stat().st_size

    def batches(self, batch_size: int, part_size: int | None = None) -> Iterator[CsvBatch]:
        """Batches of parsed rows, each carrying the position to checkpoint after it; with
        `part_size`, in parts of at most that many rows, the last of each batch `ends_batch`
        (a file may end after a part that does not)."""
        if not self.path.is_file():
            raise TerminalSourceError(f"CSV file not found: {self.path}")
        with open_csv(self.path) as handle:
            self.handle = handle
            header = self.header = self._read_header(handle)
            self.header_drift = header_drift(header)
            try:
                columns = map_header(header)
            except TerminalSourceError as exc:
                raise TerminalSourceError(exc.message + rename_hints(self.header_drift)) from None
            start, hasher = self._resume_point(handle)
            feed = _LineFeed(handle, start.offset, hasher, self.limits, self._settled)
            parts = _Parts(batch_size, part_size or batch_size)
            yield from self._read_rows(feed, header, columns, start, parts)

    def _settled(self) -> bool:
        age = time.time() - self.path.stat().st_mtime
        return age >= self.limits.settle_seconds

    def _read_header(self, handle: BinaryIO) -> list[str]:
        first = handle.readline(MAX_HEADER_BYTES + 1)
        if len(first) > MAX_HEADER_BYTES:
            raise TerminalSourceError(
                f"CSV header row is longer than {MAX_HEADER_BYTES} bytes; is this a CSV file?"
            )
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TerminalSourceError("CSV header is not valid UTF-8") from None
        header = next(csv.reader([text]), [])
        if not any(cell.strip() for cell in header):
            raise TerminalSourceError(f"CSV file has no header row: {self.path}")
        if any(len(cell) > MAX_HEADER_CELL_CHARS for cell in header):
            raise TerminalSourceError(
                f"CSV header has a column name longer than {MAX_HEADER_CELL_CHARS} characters"
            )
        return header

    def _resume_point(self, handle: BinaryIO) -> tuple[CsvPosition, Any]:
        """The checkpointed position if this is the same file (maybe appended to), else row 0.

        Returns it with the hash of every byte before it; the handle is left at that offset.
        """
        header_end = handle.tell()
        previous = self.previous
        if previous is not None and previous.file_path == str(self.path):
            handle.seek(0)
            hasher = _prefix_hash(handle, previous.offset)
            if hasher.hexdigest() == previous.prefix_sha256 and handle.tell() == previous.offset:
                return previous, hasher
        handle.seek(0)
        hasher = _prefix_hash(handle, header_end)
        self.started_over = True
        position = CsvPosition(
            file_path=str(self.path),
            generation=self.next_generation,
            row_number=0,
            offset=header_end,
            prefix_sha256=hasher.hexdigest(),
        )
        return position, hasher

    def _read_rows(
        self,
        feed: _LineFeed,
        header: list[str],
        columns: Columns,
        start: CsvPosition,
        parts: _Parts,
    ) -> Iterator[CsvBatch]:
        reader = csv.reader(feed)
        row_number = start.row_number
        batch = CsvBatch()
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                cells = []
                error: str | None = f"{UNREADABLE_ROW}: {exc}"
            else:
                if not cells:
                    continue  # blank line
                error = feed.bad_row
            if feed.truncated is not None:
                cells, feed.truncated = [feed.truncated], None
            feed.bad_row = None
            row_number += 1
            self._parse_row(batch, start.generation, row_number, len(header), columns, cells, error)
            if parts.full(batch):
                batch.position = self._position(start, row_number, feed)
                yield batch
                batch = CsvBatch()
        if batch.raw:
            batch.position = self._position(start, row_number, feed)
            yield batch

    def _position(self, start: CsvPosition, row_number: int, feed: _LineFeed) -> CsvPosition:
        return CsvPosition(
            file_path=start.file_path,
            generation=start.generation,
            row_number=row_number,
            offset=feed.offset,
            prefix_sha256=feed.hasher.copy().hexdigest(),
        )

    def _parse_row(
        self,
        batch: CsvBatch,
        generation: int,
        row_number: int,
        width: int,
        columns: Columns,
        cells: list[str],
        error: str | None,
    ) -> None:
        quote = None
        if error is None and len(cells) != width:
            error = f"{RAGGED_ROW} {len(cells)} fields, header has {width}"
        if error is None:
            try:
                skew = self.limits.max_future_skew
                quote = row_to_quote(columns, cells, self.observed_default, skew)
            except InvalidValueError as exc:
                error = str(exc)
        payload = orjson.dumps(cells).decode()
        batch.raw.append((generation, row_number, self.run_id, payload, error))
        batch.add(row_number, quote, error)


@dataclass(slots=True)
class _Parts:
    """Where a batch read in parts ends: after `batch_size` rows, taken `part_size` at a time."""

    batch_size: int
    part_size: int
    in_batch: int = 0  # rows of the current batch in parts already yielded

    def full(self, part: CsvBatch) -> bool:
        """Whether `part` is to be yielded now; marks it `ends_batch` when its batch is done."""
        rows = len(part.raw)
        if rows < self.part_size and self.in_batch + rows < self.batch_size:
            return False
        self.in_batch += rows
        part.ends_batch = self.in_batch >= self.batch_size
        if part.ends_batch:
            self.in_batch = 0
        return True


def row_to_quote(
    columns: Columns,
    cells: Sequence[str],
    observed_default: datetime,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
) -> Quote:
    """Normalize one row's cells; a row without a timestamp is observed at `observed_default`,
    the run's start, which is also the ingest time its timestamp may not be far beyond."""
    c = columns  # the hot path of a bulk load: plain indexing, few helper calls
    ticker = normalize_symbol(cells[c.ticker])
    price = parse_decimal(cells[c.price_usd], "price_usd")
    if price is None:
        raise InvalidValueError("missing price_usd")
    created = None if c.created_at is None else cells[c.created_at]
    observed = created and parse_timestamp_cached(created)
    return Quote(
        source=SOURCE_NAME,
        source_coin_id=ticker.lower(),
        ticker=ticker,
        name=None if c.name is None else normalize_name(cells[c.name]),
        price_usd=normalize_price(price),
        market_cap_usd=_optional_decimal(cells, c.market_cap_usd, "market_cap_usd"),
        volume_24h_usd=_optional_decimal(cells, c.volume_24h_usd, "volume_24h_usd"),
        percent_change_24h=_optional_decimal(
            cells, c.percent_change_24h, "percent_change_24h", signed=True
        ),
        created_at=(
            check_observed_at(observed, observed_default, max_future_skew)
            if observed
            else observed_default
        ),
    )


def _optional_decimal(
    cells: Sequence[str], index: int | None, field: str, *, signed: bool = False
) -> Decimal | None:
    if index is None:
        return None
    return normalize_amount(parse_decimal(cells[index], field), field, signed=signed)
