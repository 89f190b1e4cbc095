"""The monthly call budget of each upstream, counted in the database by every process.

Every request an API source sends (retries too, live runs and backfills alike) first counts
itself in `api_call_budget` for the current UTC month, in its own short transaction: once the
source's `*_MONTHLY_CALLS` are used up, the request is not sent (`CallBudgetSpentError`).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.domain.backfill import month_of
from kasparro.errors import CallBudgetSpentError
from kasparro.repositories import backfill as backfill_repo
from kasparro.repositories.driver import begin
from kasparro.sources.capabilities import SourceCapabilities
from kasparro.sources.http import UpstreamClient

# The requests sent by the current task so far (a backfill worker sets it per window).
REQUEST_COUNTER: ContextVar[list[int] | None] = ContextVar("request_counter", default=None)


def monthly_budget(settings: Settings, source: SourceCapabilities) -> int | None:
    """The source's monthly call budget, None when unlimited (or it has none)."""
    name = source.monthly_calls_setting
    value = getattr(settings, name) if name is not None else None
    return value if isinstance(value, int) else None


class CallBudget:
    """Counts one source's calls in the database before they are sent; refuses past the budget."""

    def __init__(self, engine: AsyncEngine, source: str, budget: int | None) -> None:
        self.engine = engine
        self.source = source
        self.budget = budget

    def attach(self, client: UpstreamClient) -> None:
        client.before_request = self.spend

    async def spend(self) -> None:
        month = month_of(datetime.now(UTC)).date()
        async with begin(self.engine) as tx:
            calls = await backfill_repo.spend_call(tx.driver, self.source, month, self.budget)
        if calls is None:
            raise CallBudgetSpentError(self.source, self.budget or 0)
        counter = REQUEST_COUNTER.get()
        if counter is not None:
            counter[0] += 1
