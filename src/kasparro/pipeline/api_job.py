"""An upstream API source's job: fetch page by page; per page, raw entries, quotes,
drift findings and the checkpoint commit in one transaction."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import canonical_json
from kasparro.domain.limits import DEFAULT_MAX_FUTURE_SKEW
from kasparro.domain.normalize import InvalidValueError
from kasparro.domain.quote import Quote
from kasparro.domain.schema_drift import DriftSummary, detect_drift
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.faults import NO_FAULTS, FaultPlan
from kasparro.pipeline.load import (
    ApiRaw,
    Batch,
    Checkpoint,
    StoreResult,
    rejection_key,
    store_quotes,
)
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.repositories.driver import begin
from kasparro.sources.api_source import (
    ApiSourceSpec,
    Page,
    SourceRequest,
    fetch_pages,
    to_quote,
    upstream_id,
)

logger = logging.getLogger("kasparro.etl")


@dataclass(slots=True)
class _PageResult:
    quotes: list[Quote] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    raw: list[tuple[str, str, str]] = field(default_factory=list)
    drift: DriftSummary = field(default_factory=DriftSummary)


def _entry_key(spec: ApiSourceSpec, entry: Mapping[str, Any], page: int, index: int) -> str:
    return upstream_id(spec, entry) or f"(no {spec.id_path}: page {page} entry {index})"


def transform_page(
    spec: ApiSourceSpec, page: Page, max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW
) -> _PageResult:
    """Pure work of a page: payload texts and hashes, drift findings, quotes or reasons."""
    result = _PageResult()
    for index, entry in enumerate(page.entries):
        key = _entry_key(spec, entry, page.number, index)
        text = canonical_json(entry)
        result.raw.append((key, text, hashlib.sha256(text.encode()).hexdigest()))
        findings = detect_drift(entry, spec.expected)
        result.drift.add(findings)
        try:
            quote = to_quote(spec, entry, page.fetched_at, findings, max_future_skew)
            result.quotes.append(quote)
        except InvalidValueError as exc:
            result.rejected.append((key, str(exc)))
    return result


class ApiJob:
    """Runs one upstream source; resumes at the page after the last committed one."""

    def __init__(
        self,
        engine: AsyncEngine,
        catalog: AssetCatalog,
        spec: ApiSourceSpec,
        request: SourceRequest,
        faults: FaultPlan = NO_FAULTS,
        max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.faults = faults
        self.max_future_skew = max_future_skew
        self.spec = spec
        self.request = request
        self.name = spec.name

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        run_id = run.run_id
        state = run.checkpoint_state or {}
        first_page = int(state.get("next_page", 1))
        if first_page > 1:
            logger.info(
                "resuming at page %d", first_page, extra={"source": self.name, "run_id": run_id}
            )
        stats_before = asdict(self.request.client.stats)
        seen_drift = DriftSummary()
        counters.details.first_page = first_page
        counters.details.count_stored(0, 0, 0)
        try:
            async for page in fetch_pages(self.spec, self.request, first_page):
                result = transform_page(self.spec, page, self.max_future_skew)
                written = await self._load(page, result, run_id)
                self._count(counters, result, written)
                self._log_new_drift(result.drift, seen_drift, run_id)
                counters.details.last_page = page.number
                progress(self.name, page.number, self.request.max_pages)
            await self.catalog.reconcile(self.engine)
        finally:
            after = asdict(self.request.client.stats)
            counters.details.http = {k: after[k] - stats_before[k] for k in after}
            if seen_drift:
                counters.details.drift = seen_drift.as_dicts()

    async def _load(self, page: Page, result: _PageResult, run_id: int) -> StoreResult:
        """Raw entries that changed, quotes, history, assets, drift and checkpoint, in one
        transaction."""
        next_page = 1 if page.last else page.number + 1
        state = {"next_page": next_page, "last_page": page.number, "cycle_complete": page.last}
        async with begin(self.engine) as tx:
            stored = await store_quotes(
                tx,
                self.catalog,
                Batch(
                    source=self.name,
                    run_id=run_id,
                    quotes=result.quotes,
                    raw=ApiRaw(page.number, page.fetched_at, result.raw),
                    checkpoint=Checkpoint(str(page.number), state),
                    drift=result.drift.as_dicts(),
                    rejected_earlier=len(result.rejected),
                ),
            )
            await self.faults.before_commit(self.name, run_id)
        return stored

    @staticmethod
    def _count(counters: RunCounters, result: _PageResult, stored: StoreResult) -> None:
        counters.processed += len(result.quotes) - stored.rejected_count
        counters.saw(stored.accepted)
        for key, reason in result.rejected:
            counters.reject(key, reason)
        for quote, reason in stored.rejected:
            counters.reject(rejection_key(quote), reason)
        counters.details.count_stored(stored.raw_stored, stored.written, stored.history_added)
        counters.details.count_skipped(stored.skipped_pruned)

    def _log_new_drift(self, page_drift: DriftSummary, seen: DriftSummary, run_id: int) -> None:
        """Warn once per run for each distinct finding, then fold the page into the run's."""
        known = {(f.kind, f.field, f.actual) for f, _ in seen.items()}
        for finding, count in page_drift.items():
            if (finding.kind, finding.field, finding.actual) not in known:
                logger.warning(
                    "schema drift: %s %s (expected %s, got %s, confidence %s) in %d entries",
                    finding.kind, finding.field, finding.expected, finding.actual,
                    finding.confidence, count, extra={"source": self.name, "run_id": run_id},
                )  # fmt: skip
        seen.merge(page_drift)
