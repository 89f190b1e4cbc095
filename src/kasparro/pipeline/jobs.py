"""Builds the job of every source that exists, with its upstream client."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import FaultTransport, announce, parse_faults
from kasparro.pipeline.runner import EtlRunner, SourceJob
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.csv_file import CsvLimits
from kasparro.sources.http import RetryPolicy, UpstreamClient


def _policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.http_max_attempts,
        timeout=settings.http_timeout_seconds,
        total_timeout=settings.http_total_timeout_seconds,
        max_body_bytes=settings.http_max_body_bytes,
        retry_after_max=settings.http_retry_after_max_seconds,
    )


def _coinpaprika(http: httpx.AsyncClient, settings: Settings) -> SourceRequest:
    key = settings.api_source_key
    headers = {"Authorization": key.get_secret_value()} if key else {}
    client = UpstreamClient(
        http, source="coinpaprika", requests_per_minute=settings.coinpaprika_rpm,
        policy=_policy(settings), headers=headers,
    )  # fmt: skip
    return SourceRequest(client=client, base_url=settings.coinpaprika_base_url)


def _coingecko(http: httpx.AsyncClient, settings: Settings) -> SourceRequest:
    key = settings.coingecko_api_key
    headers = (
        {coingecko.PLAN_KEY_HEADERS[settings.coingecko_api_plan]: key.get_secret_value()}
        if key
        else {}
    )
    client = UpstreamClient(
        http, source="coingecko", requests_per_minute=settings.coingecko_rpm,
        policy=_policy(settings), headers=headers,
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
    paprika, gecko = _coinpaprika(http, settings), _coingecko(http, settings)
    skew = timedelta(seconds=settings.max_future_skew_seconds)
    limits = CsvLimits(settings.csv_max_line_bytes, settings.csv_settle_seconds, skew)
    return {
        "csv": CsvJob(engine, catalog, settings.csv_path, settings.etl_batch_size, faults, limits),
        "coinpaprika": ApiJob(engine, catalog, coinpaprika.SPEC, paprika, faults, skew),
        "coingecko": ApiJob(engine, catalog, coingecko.SPEC, gecko, faults, skew),
    }


def build_runner(engine: AsyncEngine, settings: Settings, http: httpx.AsyncClient) -> EtlRunner:
    """A runner whose default run covers the sources enabled in `ETL_SOURCES`."""
    return EtlRunner(
        engine,
        build_jobs(engine, settings, http),
        enabled=settings.etl_sources,
        snapshots_kept=settings.etl_run_snapshots_kept,
    )


def new_http_client(settings: Settings | None = None) -> httpx.AsyncClient:
    """The one connection pool every upstream shares; per-request timeouts come from the policy.

    With HTTP faults in `settings.etl_faults`, a transport wrapper answers the requests they name.
    """
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10)
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=limits)
    faults = parse_faults(settings.etl_faults) if settings is not None else None
    if settings is not None and faults is not None and faults.http:
        routes = {
            settings.coinpaprika_base_url: "coinpaprika",
            settings.coingecko_url: "coingecko",
        }
        transport = FaultTransport(transport, faults, routes)
    return httpx.AsyncClient(
        headers={"User-Agent": "kasparro-etl", "Accept": "application/json"},
        transport=transport,
        follow_redirects=True,
    )
