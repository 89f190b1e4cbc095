"""Bulk export of asset history (`/export/history`, `kasparro export`): the rows paging through
`/assets/{id}/history` would give, for several assets, streamed in a file format.

Rows are read as keyset pages of `chunk_rows` through the very queries the history route pages
with (repositories/history.py), so an export equals that paging by construction; memory holds
about one chunk. Each page is its own short statement outside any transaction, so an export
of any length holds no lock between pages: a transaction around the whole export would keep
`quotes` locked for minutes, and the ETL's next new month partition (an ACCESS EXCLUSIVE lock
on `quotes`) would wait behind it with every reader of `quotes` queued behind that. The price:
the count (EXPORT_MAX_ROWS, `X-Export-Rows`) is taken when the export begins, and rows
committed while it streams may appear in pages not read yet, as when paging through the API.
The connection's `statement_timeout` is EXPORT_STATEMENT_TIMEOUT_MS for the export's
statements (the count, each page) instead of the read pool's API_STATEMENT_TIMEOUT_MS; it is
set for the session and reset when the connection goes back to its pool (asyncpg's RESET ALL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from kasparro.domain.queries import HistoryFilter, ObservationKey
from kasparro.errors import ExportTooLargeError
from kasparro.repositories import history, history_counts
from kasparro.repositories.driver import Driver
from kasparro.services.asset_lookup import require_asset
from kasparro.services.export_formats import MEDIA_TYPES, Format, Row, writer_for

MAX_ASSETS = 100
FILE_SUFFIXES: dict[Format, str] = {"parquet": "parquet", "csv": "csv", "ndjson": "ndjson"}


@dataclass(frozen=True, slots=True)
class ExportSelection:
    """Assets in the order given (one listed twice is exported twice), and the history filter."""

    asset_ids: tuple[str, ...]
    interval: str = "raw"
    start: datetime | None = None
    end: datetime | None = None
    sources: tuple[str, ...] | None = None  # None: every source

    def filter_of(self, asset_id: str) -> HistoryFilter:
        return HistoryFilter(asset_id, None, self.start, self.end, self.sources)

    def file_name(self, fmt: Format) -> str:
        more = len(self.asset_ids) - 1
        extra = f"-and-{more}-more" if more else ""
        return f"kasparro-{self.asset_ids[0]}{extra}-{self.interval}.{FILE_SUFFIXES[fmt]}"


def media_type(fmt: Format) -> str:
    return MEDIA_TYPES[fmt]


@dataclass(frozen=True, slots=True)
class ExportLimits:
    max_rows: int
    chunk_rows: int
    statement_timeout_ms: int


class Export:
    """One export on one connection of its own: `open` (checks, count), then `stream`."""

    def __init__(self, driver: Driver, selection: ExportSelection, limits: ExportLimits) -> None:
        self.driver = driver
        self.selection = selection
        self.limits = limits
        self.rows = 0

    async def open(self) -> int:
        """Set the export's timeout, check every asset exists (404) and the size (413); the
        row count."""
        timeout = str(self.limits.statement_timeout_ms)
        await self.driver.fetchval("SELECT set_config('statement_timeout', $1, false)", timeout)
        for asset_id in dict.fromkeys(self.selection.asset_ids):
            await require_asset(self.driver, asset_id)
        self.rows = await self._count()
        if self.rows > self.limits.max_rows:
            raise ExportTooLargeError(self.rows, self.limits.max_rows)
        return self.rows

    async def _count(self) -> int:
        sel = self.selection
        ids, sources = list(sel.asset_ids), None if sel.sources is None else list(sel.sources)
        if sel.interval == "raw":
            return await history_counts.count_observations(
                self.driver, ids, sources, sel.start, sel.end
            )
        return await history_counts.count_buckets(
            self.driver, ids, sel.interval, sources, sel.start, sel.end
        )

    async def stream(
        self, fmt: Format, on_rows: Callable[[int], None] | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes, a piece per chunk of rows; `on_rows` hears each chunk's size."""
        writer = writer_for(fmt, self.selection.interval)
        yield writer.begin()
        async for rows in self._chunks():
            yield writer.chunk(rows)
            if on_rows is not None:
                on_rows(len(rows))
        yield writer.finish()

    async def _chunks(self) -> AsyncIterator[list[Row]]:
        """Rows of every asset in order, in lists of `chunk_rows` (the last one shorter)."""
        size = self.limits.chunk_rows
        pending: list[Row] = []
        for asset_id in self.selection.asset_ids:
            async for page in self._pages(asset_id):
                pending.extend(page)
                while len(pending) >= size:
                    yield pending[:size]
                    del pending[:size]
        if pending:
            yield pending

    def _pages(self, asset_id: str) -> AsyncIterator[list[Row]]:
        if self.selection.interval == "raw":
            return self._observation_pages(asset_id)
        return self._bucket_pages(asset_id)

    async def _observation_pages(self, asset_id: str) -> AsyncIterator[list[Row]]:
        flt, size = self.selection.filter_of(asset_id), self.limits.chunk_rows
        after: ObservationKey | None = None
        while True:
            page = await history.observations(self.driver, flt, size, after)
            for row in page:
                row["asset_id"] = asset_id
            yield page
            if len(page) < size:
                return
            last = page[-1]
            after = ObservationKey(last["observed_at"], last["source"], last["source_coin_id"])

    async def _bucket_pages(self, asset_id: str) -> AsyncIterator[list[Row]]:
        """As services.assets.asset_history pages candles: one extra is the next page's start."""
        flt, size = self.selection.filter_of(asset_id), self.limits.chunk_rows
        interval = self.selection.interval
        width = history.INTERVALS[interval]
        start: datetime | None = None
        while True:
            page = await history.buckets(self.driver, flt, interval, size + 1, start)
            next_start = page[size]["start"] if len(page) > size else None
            del page[size:]
            for row in page:
                row["asset_id"] = asset_id
                row["end"] = row["start"] + width
            yield page
            if next_start is None:
                return
            start = next_start
