"""SQL for the monthly partitions of `quotes`: make a month's partition before rows of that
month are stored, list the months, and drop whole months (retention)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from kasparro.repositories.driver import Driver

# One lock for every maker of partitions, so two writers making the same month never collide.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('kasparro.quotes_partitions'))"
_IN_DEFAULT = """
SELECT EXISTS (SELECT 1 FROM quotes_default WHERE observed_at >= $1 AND observed_at < $2)
"""
_ALL = (
    "source, source_coin_id, observed_at, ticker, name, price_usd, market_cap_usd,"
    " volume_24h_usd, percent_change_24h, run_id, ingested_at"
)
# The month partitions of `quotes` with their bounds, oldest first (the default one aside).
_LIST = """
SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'quotes'::regclass AND c.relname ~ '^quotes_y[0-9]{4}m[0-9]{2}$'
ORDER BY c.relname
"""


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """One UTC calendar month, the unit of partitioning."""

    year: int
    month: int

    @classmethod
    def of(cls, at: datetime) -> Month:
        """The month of `at` in UTC. A batch asks for the month of every instant it holds (a
        backfill window: one per point), so UTC instants skip the conversion and each month
        is made once (making one costs more than looking it up)."""
        utc = at if at.tzinfo is UTC else at.astimezone(UTC)
        return _month(utc.year, utc.month)

    @property
    def table(self) -> str:
        return f"quotes_y{self.year:04d}m{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)


def month_of_table(name: str) -> Month:
    return Month(int(name[8:12]), int(name[13:15]))


async def ensure(driver: Driver, month: Month) -> bool:
    """Make `month`'s partition unless it exists, in the caller's transaction; True if made.

    Rows of that month that reached the default partition (a write that skipped this step)
    move into the new partition, so the default stays empty and nothing is lost.
    """
    await driver.execute(_LOCK)
    if await driver.fetchval("SELECT to_regclass($1) IS NOT NULL", month.table):
        return False
    bounds = f"FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
    if not await driver.fetchval(_IN_DEFAULT, month.start, month.end):
        await driver.execute(
            f"CREATE TABLE IF NOT EXISTS {month.table} PARTITION OF quotes {bounds}"
        )
        return True
    await driver.execute(f"CREATE TABLE {month.table} (LIKE quotes INCLUDING DEFAULTS)")
    await driver.execute(
        f"WITH moved AS (DELETE FROM quotes_default WHERE observed_at >= $1 AND observed_at < $2"
        f" RETURNING {_ALL}) INSERT INTO {month.table} ({_ALL}) SELECT {_ALL} FROM moved",
        month.start, month.end,
    )  # fmt: skip
    await driver.execute(f"ALTER TABLE quotes ATTACH PARTITION {month.table} {bounds}")
    return True


async def missing(driver: Driver, wanted: list[Month]) -> list[Month]:
    """Those of `wanted` that have no partition yet, in order."""
    names = await driver.fetch(
        "SELECT name FROM unnest($1::text[]) WITH ORDINALITY AS w(name, k)"
        " WHERE to_regclass(name) IS NULL ORDER BY k",
        [m.table for m in wanted],
    )
    return [month_of_table(row["name"]) for row in names]


async def holds_quotes_lock(driver: Driver) -> bool:
    """Whether this connection's transaction already holds a lock on `quotes` (it wrote)."""
    held: bool = await driver.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()"
        " AND relation = 'quotes'::regclass)"
    )
    return held


async def months(driver: Driver) -> list[Month]:
    """Every month that has a partition, oldest first."""
    return [month_of_table(row["name"]) for row in await driver.fetch(_LIST)]


async def count_rows(driver: Driver, month: Month) -> int:
    count: int = await driver.fetchval(f"SELECT count(*) FROM {month.table}")
    return count


async def drop(driver: Driver, month: Month) -> None:
    """Drop a whole month of observations: a catalog change, whatever the month holds.

    DETACH ... CONCURRENTLY first would spare readers the lock, but it cannot run in a
    transaction block; the plain DROP holds the parent's lock only for the catalog change.
    """
    await driver.execute(f"DROP TABLE IF EXISTS {month.table}")


async def delete_default_before(driver: Driver, before: datetime, *, dry_run: bool) -> int:
    """Rows the default partition holds from before `before` (none, unless a writer skipped
    making its month): counted, or deleted."""
    if dry_run:
        count: int = await driver.fetchval(
            "SELECT count(*) FROM quotes_default WHERE observed_at < $1", before
        )
        return count
    status: str = await driver.execute("DELETE FROM quotes_default WHERE observed_at < $1", before)
    return int(status.rsplit(" ", 1)[-1])


@functools.cache
def _month(year: int, month: int) -> Month:
    return Month(year, month)
