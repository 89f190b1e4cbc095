"""Refreshes the sources' token contracts (`coin_contracts`), at most once per interval.

Per source: fetch its catalog (sources/catalog.py) through the source's own upstream client,
map each platform to its canonical name and each address to its compared form
(domain/platforms.py), then in one transaction make those the source's active contracts and
record the time in `catalog_refreshes`. The interval is measured from that row, so it holds
across processes and restarts; a per-source advisory lock keeps two processes from
refreshing one source at once. A failed refresh writes nothing but its own row
(`{source}:failed`): the contracts stored before stay as they were. After any successful
refresh the asset catalog re-scores the evidence (`AssetCatalog.reconcile`), so a shared
contract merges its coins right away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.platforms import canonical_contract
from kasparro.errors import SourceError
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.locks import SourceLocks
from kasparro.repositories import contracts
from kasparro.repositories.driver import begin
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.catalog import CatalogFetch, CatalogSpec, fetch_contracts

logger = logging.getLogger("kasparro.catalog")

# After a failure the scheduler waits this long (or the interval, if shorter) before trying
# that source again: an upstream that keeps failing must not eat the plan's monthly quota.
RETRY_AFTER_FAILURE = timedelta(hours=1)

Status = Literal["refreshed", "fresh", "busy", "failed"]


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What one source's refresh did."""

    source: str
    status: Status
    contracts: int = 0  # active contracts stored for the source afterwards
    requests: int = 0  # HTTP requests sent
    message: str | None = None
    last_success: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class ContractRefresher:
    """The catalog refresh of every source that lists contracts."""

    def __init__(
        self,
        engine: AsyncEngine,
        catalog: AssetCatalog,
        sources: Mapping[str, tuple[CatalogSpec, SourceRequest]],
        interval_seconds: int,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.sources = dict(sources)
        self.interval = timedelta(seconds=interval_seconds)
        self._clock = clock

    async def refresh(self, *, scheduled: bool = False) -> list[RefreshOutcome]:
        """Refresh each source whose last success is older than the interval.

        `scheduled`: also wait `RETRY_AFTER_FAILURE` after a failed attempt (the CLI, asked
        by a person, tries again at once).
        """
        outcomes = list(
            await asyncio.gather(*(self._one(s, scheduled) for s in sorted(self.sources)))
        )
        if any(o.status == "refreshed" for o in outcomes):
            await self.catalog.reconcile(self.engine, evidence=True)  # new evidence
        return outcomes

    async def _due(self, source: str, scheduled: bool) -> tuple[bool, datetime | None]:
        async with begin(self.engine) as tx:
            seen = await contracts.refreshes(tx.driver)
        last, failed = seen.get(source), seen.get(contracts.failed_key(source))
        now = self._clock()
        if last is not None and now - last < self.interval:
            return False, last
        if scheduled and failed is not None and (last is None or failed > last):
            return now - failed >= min(self.interval, RETRY_AFTER_FAILURE), last
        return True, last

    async def _one(self, source: str, scheduled: bool) -> RefreshOutcome:
        due, last = await self._due(source, scheduled)
        if not due:
            return RefreshOutcome(source, "fresh", last_success=last)
        locks = SourceLocks(self.engine)
        if await locks.acquire([f"catalog:{source}"]):
            return RefreshOutcome(source, "busy", message="another process is refreshing it")
        try:
            due, last = await self._due(source, scheduled)  # it may have just finished one
            if not due:
                return RefreshOutcome(source, "fresh", last_success=last)
            return await self._fetch_and_store(source, last)
        finally:
            await locks.release()

    async def _fetch_and_store(self, source: str, last: datetime | None) -> RefreshOutcome:
        spec, request = self.sources[source]
        before = request.client.stats.requests
        try:
            fetched = await fetch_contracts(spec, request)
        except SourceError as exc:
            async with begin(self.engine) as tx:
                await contracts.record(tx.driver, contracts.failed_key(source), self._clock())
            logger.error(
                "catalog refresh failed; the contracts stored before are kept: %s",
                exc.message, extra={"source": source},
            )  # fmt: skip
            sent = request.client.stats.requests - before
            return RefreshOutcome(source, "failed", 0, sent, exc.message, last)
        now = self._clock()
        async with begin(self.engine) as tx:
            written, retired = await contracts.replace(tx.driver, source, _rows(source, fetched))
            await contracts.record(tx.driver, source, now)
            stored = await contracts.count_active(tx.driver, source)
        logger.info(
            "catalog refreshed: %d contracts (%d new or changed, %d no longer listed, "
            "%d entries skipped) in %d requests",
            stored, written, retired, fetched.skipped, fetched.requests, extra={"source": source},
        )  # fmt: skip
        return RefreshOutcome(source, "refreshed", stored, fetched.requests, None, now)


def _rows(source: str, fetched: CatalogFetch) -> list[contracts.ContractRow]:
    rows: list[contracts.ContractRow] = []
    for listing in fetched.listings:
        platform, address = canonical_contract(source, listing.platform, listing.address)
        rows.append((listing.coin_id, platform, address, listing.active))
    return rows
