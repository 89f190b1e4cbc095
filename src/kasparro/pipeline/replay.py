"""Replay: rebuild normalized quotes from the stored raw records alone, without refetching."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from kasparro.domain.normalize import InvalidValueError
from kasparro.domain.quote import Quote
from kasparro.pipeline.outcome import ProgressFn, RunCounters
from kasparro.pipeline.runner import SourceJob
from kasparro.repositories import raw_api, raw_csv
from kasparro.repositories.driver import driver_connection
from kasparro.repositories.normalized_write import upsert_latest
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import ApiSourceSpec, to_quote
from kasparro.sources.csv_columns import Columns, map_header
from kasparro.sources.csv_file import SOURCE_NAME, STRUCTURAL_ERRORS, row_to_quote

REPLAY_BATCH = 5_000


def _csv_quote(record: Any, headers: dict[str, Columns]) -> Quote:
    if record["error"] and record["error"].startswith(STRUCTURAL_ERRORS):
        raise InvalidValueError(record["error"])
    if record["header"] not in headers:
        headers[record["header"]] = map_header(loads_exact(record["header"]))
    cells: list[str] = loads_exact(record["payload"])
    return row_to_quote(headers[record["header"]], cells, record["started_at"])


class CsvReplayJob:
    name = SOURCE_NAME

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def run(self, run_id: int, counters: RunCounters, progress: ProgressFn) -> None:
        counters.notes["mode"] = "replay"
        headers: dict[str, Columns] = {}  # header JSON -> column mapping
        async with self.engine.begin() as conn:
            driver = await driver_connection(conn)
            async for records in raw_csv.iterate(driver, REPLAY_BATCH):
                quotes = []
                for record in records:
                    try:
                        quotes.append(_csv_quote(record, headers))
                    except InvalidValueError as exc:
                        counters.reject(record["row_number"], str(exc))
                await upsert_latest(driver, quotes, run_id)
                counters.processed += len(quotes)
                counters.failed = sum(counters.reasons.values())


class ApiReplayJob:
    def __init__(self, engine: AsyncEngine, spec: ApiSourceSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.name = spec.name

    async def run(self, run_id: int, counters: RunCounters, progress: ProgressFn) -> None:
        counters.notes["mode"] = "replay"
        async with self.engine.begin() as conn:
            driver = await driver_connection(conn)
            async for records in raw_api.iterate(driver, self.name, REPLAY_BATCH):
                quotes = []
                for record in records:
                    entry: Mapping[str, Any] = loads_exact(record["payload"])
                    try:
                        quotes.append(to_quote(self.spec, entry, record["fetched_at"]))
                    except InvalidValueError as exc:
                        counters.reject(record["upstream_id"], str(exc))
                await upsert_latest(driver, quotes, run_id)
                counters.processed += len(quotes)
                counters.failed = sum(counters.reasons.values())


def build_replay_jobs(engine: AsyncEngine) -> dict[str, SourceJob]:
    return {
        "csv": CsvReplayJob(engine),
        "coinpaprika": ApiReplayJob(engine, coinpaprika.SPEC),
        "coingecko": ApiReplayJob(engine, coingecko.SPEC),
    }
