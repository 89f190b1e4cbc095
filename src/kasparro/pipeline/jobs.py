"""Builds the job of every source that exists, with its upstream client."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import FaultPlan, announce, parse_faults
from kasparro.pipeline.runner import EtlRunner, SourceJob
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import RetryPolicy, UpstreamClient


def _policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.http_max_attempts,
        timeout=settings.http_timeout_seconds,
        retry_after_max=settings.http_retry_after_max_seconds,
    )


def _coinpaprika(http: httpx.AsyncClient, settings: Settings, faults: FaultPlan) -> SourceRequest:
    key = settings.api_source_key
    headers = {"Authorization": key.get_secret_value()} if key else {}
    client = UpstreamClient(
        http, source="coinpaprika", requests_per_minute=settings.coinpaprika_rpm,
        policy=_policy(settings), headers=headers,
        injected=partial(faults.http_response, "coinpaprika"),
    )  # fmt: skip
    return SourceRequest(client=client, base_url=settings.coinpaprika_base_url)


def _coingecko(http: httpx.AsyncClient, settings: Settings, faults: FaultPlan) -> SourceRequest:
    key = settings.coingecko_api_key
    headers = (
        {coingecko.PLAN_KEY_HEADERS[settings.coingecko_api_plan]: key.get_secret_value()}
        if key
        else {}
    )
    client = UpstreamClient(
        http, source="coingecko", requests_per_minute=settings.coingecko_rpm,
        policy=_policy(settings), headers=headers,
        injected=partial(faults.http_response, "coingecko"),
    )  # fmt: skip
    return SourceRequest(
        client=client, base_url=settings.coingecko_url, max_pages=settings.coingecko_max_pages
    )


def build_jobs(
    engine: AsyncEngine, settings: Settings, http: httpx.AsyncClient
) -> dict[str, SourceJob]:
    """Every source that exists, whether enabled or not (a run may name any)."""
    catalog = AssetCatalog(
        settings.asset_overrides_path, timedelta(seconds=settings.stale_after_seconds)
    )
    faults = parse_faults(settings.etl_faults)
    announce(faults, settings.etl_faults)
    paprika, gecko = _coinpaprika(http, settings, faults), _coingecko(http, settings, faults)
    return {
        "csv": CsvJob(engine, catalog, settings.csv_path, settings.etl_batch_size, faults),
        "coinpaprika": ApiJob(engine, catalog, coinpaprika.SPEC, paprika, faults),
        "coingecko": ApiJob(engine, catalog, coingecko.SPEC, gecko, faults),
    }


def build_runner(engine: AsyncEngine, settings: Settings, http: httpx.AsyncClient) -> EtlRunner:
    """A runner whose default run covers the sources enabled in `ETL_SOURCES`."""
    return EtlRunner(
        engine,
        build_jobs(engine, settings, http),
        enabled=settings.etl_sources,
        snapshots_kept=settings.etl_run_snapshots_kept,
    )


def new_http_client() -> httpx.AsyncClient:
    """The one connection pool every upstream shares; per-request timeouts come from the policy."""
    return httpx.AsyncClient(
        headers={"User-Agent": "kasparro-etl", "Accept": "application/json"},
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        follow_redirects=True,
    )
