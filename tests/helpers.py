"""Small helpers shared by tests: run the ETL, read tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.csv_job import PART_ROWS, CsvJob
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import RetryPolicy, UpstreamClient


def no_overrides() -> AssetCatalog:
    """A catalog with no override file: the identity rules alone."""
    return AssetCatalog(Path("/nonexistent/asset_overrides.csv"))


async def run_csv(
    engine: AsyncEngine,
    path: Path,
    batch_size: int = 1000,
    catalog: AssetCatalog | None = None,
    part_rows: int = PART_ROWS,
) -> RunOutcome:
    job = CsvJob(engine, catalog or no_overrides(), path, batch_size, part_rows=part_rows)
    runner = EtlRunner(engine, {"csv": job})
    (outcome,) = await runner.run()
    return outcome


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        return [dict(row._mapping) for row in result]


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(text(sql), params)


def paprika_job(engine: AsyncEngine, http: httpx.AsyncClient, base_url: str) -> ApiJob:
    """The CoinPaprika job against `base_url`, retrying three times with tiny back-offs."""
    upstream = UpstreamClient(
        http, source="coinpaprika", requests_per_minute=1000,
        policy=RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02),
    )  # fmt: skip
    return ApiJob(engine, no_overrides(), coinpaprika.SPEC, SourceRequest(upstream, base_url))
