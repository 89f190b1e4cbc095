"""Builds the job of every source that exists, with its upstream client."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.budget import CallBudget, monthly_budget
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.contracts import ContractRefresher
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import FaultTransport, announce, parse_faults
from kasparro.pipeline.runner import EtlRunner, SourceJob
from kasparro.sources import registry
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.csv_file import CsvLimits


def asset_catalog(settings: Settings) -> AssetCatalog:
    # build_runner has the runner call `finish_run`
    return AssetCatalog.from_settings(settings, rescore_at_run_end=True)


def api_requests(
    http: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> dict[str, SourceRequest]:
    """Each API source's upstream client, built once: its jobs and its catalog refresh share
    it, and with it the source's rate limit and monthly call budget."""
    requests: dict[str, SourceRequest] = {}
    for source in registry.api_sources():
        _, request = source.api()
        requests[source.name] = request(http, settings)
        if (budget := monthly_budget(settings, source)) is not None:  # shared with backfills
            CallBudget(engine, source.name, budget).attach(requests[source.name].client)
    return requests


def build_jobs(
    engine: AsyncEngine,
    settings: Settings,
    http: httpx.AsyncClient,
    requests: Mapping[str, SourceRequest] | None = None,
    catalog: AssetCatalog | None = None,
) -> dict[str, SourceJob]:
    """Every source that exists, whether enabled or not (a run may name any)."""
    catalog = catalog or asset_catalog(settings)
    requests = requests or api_requests(http, settings, engine)
    faults = parse_faults(settings.etl_faults)
    announce(faults, settings.etl_faults)
    skew = timedelta(seconds=settings.max_future_skew_seconds)
    limits = CsvLimits(settings.csv_max_line_bytes, settings.csv_settle_seconds, skew)
    jobs: dict[str, SourceJob] = {}
    for source in registry.SOURCES:
        if source.kind == "api":
            spec, _ = source.api()
            jobs[source.name] = ApiJob(engine, catalog, spec, requests[source.name], faults, skew)
        else:  # the one file source is the CSV file at CSV_PATH
            jobs[source.name] = CsvJob(
                engine, catalog, settings.csv_path, settings.etl_batch_size, faults, limits
            )
    return jobs


def build_runner(
    engine: AsyncEngine,
    settings: Settings,
    http: httpx.AsyncClient,
    requests: Mapping[str, SourceRequest] | None = None,
    catalog: AssetCatalog | None = None,
) -> EtlRunner:
    """A runner whose default run covers the sources enabled in `ETL_SOURCES`."""
    catalog = catalog or asset_catalog(settings)
    return EtlRunner(
        engine,
        build_jobs(engine, settings, http, requests, catalog),
        enabled=settings.etl_sources,
        snapshots_kept=settings.etl_run_snapshots_kept,
        settle=catalog.finish_run,
        stream_replay_seconds=settings.stream_replay_seconds,
    )


def build_refresher(
    engine: AsyncEngine,
    settings: Settings,
    requests: Mapping[str, SourceRequest],
    catalog: AssetCatalog | None = None,
) -> ContractRefresher:
    """The contracts refresh of the enabled API sources that list contracts (their clients
    in `requests`)."""
    catalogs = {
        source.name: (source.catalog, requests[source.name])
        for source in registry.api_sources()
        if source.catalog is not None
        and source.name in requests
        and source.name in settings.etl_sources
    }
    return ContractRefresher(
        engine, catalog or asset_catalog(settings), catalogs, settings.catalog_refresh_seconds
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
            getattr(settings, source.base_url_setting): source.name
            for source in registry.api_sources()
            if source.base_url_setting is not None
        }
        transport = FaultTransport(transport, faults, routes)
    return httpx.AsyncClient(
        headers={"User-Agent": "kasparro-etl", "Accept": "application/json"},
        transport=transport,
        follow_redirects=True,
    )
