"""SQL for `coin_contracts` and `catalog_refreshes` (asyncpg driver calls).

`catalog_refreshes` holds one row per source, `refreshed_at` being its last successful
refresh, and one per source under `FAILED_KEY` (`coingecko:failed`), the last failed
attempt: no migration was needed to keep failures on record beside successes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kasparro.repositories.driver import Driver

FAILED_SUFFIX = ":failed"

# (source coin id, canonical platform, address as compared, active)
ContractRow = tuple[str, str, str, bool]

_UPSERT = """
INSERT INTO coin_contracts AS c (source, source_coin_id, platform, address, active)
SELECT $1, coin, platform, address, active
FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[]) AS r(coin, platform, address, active)
ON CONFLICT (source, source_coin_id, platform, address) DO UPDATE SET
    active = EXCLUDED.active, updated_at = now()
WHERE c.active IS DISTINCT FROM EXCLUDED.active
"""
# A contract the source no longer lists stays on record, inactive: no longer evidence.
_RETIRE = """
UPDATE coin_contracts c SET active = false, updated_at = now()
WHERE c.source = $1 AND c.active
  AND NOT EXISTS (
      SELECT 1 FROM unnest($2::text[], $3::text[], $4::text[]) AS r(coin, platform, address)
      WHERE r.coin = c.source_coin_id AND r.platform = c.platform AND r.address = c.address)
"""
_RECORD = """
INSERT INTO catalog_refreshes (source, refreshed_at) VALUES ($1, $2)
ON CONFLICT (source) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at
"""


def failed_key(source: str) -> str:
    return f"{source}{FAILED_SUFFIX}"


async def replace(driver: Driver, source: str, rows: Sequence[ContractRow]) -> tuple[int, int]:
    """Make `rows` the source's active contracts; returns (rows written, rows retired)."""
    active: dict[tuple[str, str, str], bool] = {}
    for coin, platform, address, is_active in rows:  # listed twice: active if either says so
        key = (coin, platform, address)
        active[key] = active.get(key, False) or is_active
    unique = sorted((*key, is_active) for key, is_active in active.items())
    columns = [list(c) for c in zip(*unique, strict=True)] if unique else [[], [], [], []]
    written = await driver.execute(_UPSERT, source, *columns)
    retired = await driver.execute(_RETIRE, source, *columns[:3])
    return _count(written), _count(retired)


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 12" / "UPDATE 3"


async def record(driver: Driver, key: str, at: datetime) -> None:
    await driver.execute(_RECORD, key, at)


async def refreshes(driver: Driver) -> dict[str, datetime]:
    """Every row of `catalog_refreshes`: key -> time."""
    rows = await driver.fetch("SELECT source, refreshed_at FROM catalog_refreshes")
    return {r["source"]: r["refreshed_at"] for r in rows}


async def count_active(driver: Driver, source: str) -> int:
    sql = "SELECT count(*) FROM coin_contracts WHERE source = $1 AND active"
    return int(await driver.fetchval(sql, source))
