"""A history mixing backfilled, live, empty, failed, pending and plan-limited stretches.

CoinGecko's bitcoin, daily windows written straight into `backfill_windows`:
  2026-01-01..01-11 plan_limit | 01-11..01-21 done (two windows; no point on 01-15)
  01-21..01-31 upstream_empty | 01-31..02-10 failed | 02-10..02-20 pending
then live snapshots on 02-25 at 00:00, 00:05, 00:10 and, after a hole, 01:00, 01:05.
CoinPaprika's btc-bitcoin: one live snapshot on 02-25 at 00:02.

`prune_january` adds CoinPaprika snapshots on 01-25 at 00:00, 00:05 and 00:10, then lets
retention drop January 2026 (its rollups stay).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.retention import Retention, prune
from tests.api.seed import quote, seed

GECKO = {"source": "coingecko", "coin": "bitcoin"}
PAPRIKA = {"source": "coinpaprika", "coin": "btc-bitcoin"}
DONE_DAYS = [11, 12, 13, 14, 16, 17, 18, 19, 20]
LIVE = ["00:00", "00:05", "00:10", "01:00", "01:05"]
Window = tuple[str, str, str, str, str | None, str | None]  # interval, start, end, state, ...
WINDOWS: list[Window] = [  # interval, start, end, state, reason, last_error
    ("1d", "2026-01-01", "2026-01-11", "gap", "plan_limit", None),
    ("1d", "2026-01-11", "2026-01-16", "done", None, None),
    ("1d", "2026-01-16", "2026-01-21", "done", None, None),
    ("1d", "2026-01-21", "2026-01-31", "gap", "upstream_empty", None),
    ("1d", "2026-01-31", "2026-02-10", "failed", "failed", "HTTP 500: boom"),
    ("1d", "2026-02-10", "2026-02-20", "pending", None, None),
]
_INSERT = text(
    "INSERT INTO backfill_windows (source, source_coin_id, interval, window_start, window_end,"
    " state, reason, last_error, attempts)"
    " VALUES (:source, :coin, :interval, :start, :end, :state, :reason, :error, :attempts)"
)


def day(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


async def add_windows(db: AsyncEngine, source: str, coin: str, windows: list[Window]) -> None:
    async with db.begin() as conn:
        for interval, start, end, state, reason, error in windows:
            await conn.execute(_INSERT, {
                "source": source, "coin": coin, "interval": interval, "start": day(start),
                "end": day(end), "state": state, "reason": reason, "error": error,
                "attempts": 3 if state == "failed" else int(state == "done"),
            })  # fmt: skip


async def seed_mixed(db: AsyncEngine) -> str:
    """Seeds the history above; returns the asset id both coins are on."""
    backfilled = [
        quote("BTC", str(100 + d), at=f"2026-01-{d:02d}T00:00:00", **GECKO) for d in DONE_DAYS
    ]
    live = [quote("BTC", "200", at=f"2026-02-25T{hm}:00", **GECKO) for hm in LIVE]
    await seed(db, [*backfilled, *live, quote("BTC", "201", at="2026-02-25T00:02:00", **PAPRIKA)])
    await add_windows(db, "coingecko", "bitcoin", WINDOWS)
    async with db.connect() as conn:
        asset_id = await conn.scalar(
            text("SELECT asset_id FROM asset_mappings WHERE source_coin_id = 'bitcoin'")
        )
    return str(asset_id)


async def prune_january(db: AsyncEngine) -> None:
    """Snapshots of CoinPaprika's coin in January too, then January 2026 pruned."""
    jan = [quote("BTC", "150", at=f"2026-01-25T{hm}:00", **PAPRIKA) for hm in LIVE[:3]]
    await seed(db, jan)
    now = datetime(2026, 2, 26, tzinfo=UTC)  # 20 days: the cutoff falls in February
    report = await prune(db, Retention(history_days=20), now=now)
    assert "quotes_y2026m01" in {item.what for item in report.items}
