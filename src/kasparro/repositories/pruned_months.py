"""SQL for `quote_pruned_months`: the months retention dropped, recorded with the drop, and
read (and held) by the writers, which skip them."""

from __future__ import annotations

from kasparro.repositories.driver import Driver
from kasparro.repositories.partitions import Month

# SHARE: writers never wait for each other, but a month being recorded waits for every batch
# that read the list before it; otherwise a batch that read it just before could make the
# dropped month's partition again and fold observations its rollups already count.
_HOLD = "LOCK TABLE quote_pruned_months IN SHARE MODE"
_LIST = "SELECT month FROM quote_pruned_months ORDER BY month"
_RECORD = "INSERT INTO quote_pruned_months (month) VALUES ($1) ON CONFLICT DO NOTHING"


def in_pruned_month(column: str) -> str:
    """SQL: whether the instant `column` falls in a month retention dropped."""
    month = f"date_trunc('month', {column} AT TIME ZONE 'UTC')::date"
    return f"({month} IN (SELECT month FROM quote_pruned_months))"  # noqa: S608 - our column


async def hold(driver: Driver) -> None:
    """No month is recorded as pruned (nor dropped) until the caller's transaction ends."""
    await driver.execute(_HOLD)


async def held(driver: Driver) -> frozenset[Month]:
    """The pruned months; none is added until the caller's transaction ends."""
    await hold(driver)
    return frozenset(Month(r["month"].year, r["month"].month) for r in await driver.fetch(_LIST))


async def record(driver: Driver, month: Month) -> None:
    """Note that `month`'s observations are gone, in the transaction that drops them."""
    await driver.execute(_RECORD, month.start.date())
