"""SQL for `quotes`, the observation history: bulk insert that adds only unseen observations."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from kasparro.domain.quote import Quote

# COPY into a per-connection staging table, then one INSERT that skips what is stored:
# COPY alone cannot skip, and a plain INSERT of a 50,000-row batch costs several times more.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS quotes_stage (
    source text, source_coin_id text, observed_at timestamptz, ticker text, name text,
    price_usd text, market_cap_usd text, volume_24h_usd text, percent_change_24h text
) ON COMMIT DELETE ROWS
"""
_COLUMNS = (
    "source", "source_coin_id", "observed_at", "ticker", "name", "price_usd",
    "market_cap_usd", "volume_24h_usd", "percent_change_24h",
)  # fmt: skip
_INSERT = """
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                    market_cap_usd, volume_24h_usd, percent_change_24h, run_id)
SELECT source, source_coin_id, observed_at, ticker, name, price_usd::numeric,
       market_cap_usd::numeric, volume_24h_usd::numeric, percent_change_24h::numeric, $1
FROM quotes_stage
ON CONFLICT DO NOTHING
"""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def add(driver: Any, quotes: Iterable[Quote], run_id: int) -> int:
    """Store each observation not stored yet (same source, coin and time); returns how many."""
    rows = [
        (
            q.source, q.source_coin_id, q.created_at, q.ticker, q.name, str(q.price_usd),
            _text(q.market_cap_usd), _text(q.volume_24h_usd), _text(q.percent_change_24h),
        )
        for q in quotes
    ]  # fmt: skip
    if not rows:
        return 0
    await driver.execute(_STAGE)
    await driver.copy_records_to_table("quotes_stage", records=rows, columns=_COLUMNS)
    status: str = await driver.execute(_INSERT, run_id)
    await driver.execute("TRUNCATE quotes_stage")  # the next batch may share this transaction
    return int(status.rsplit(" ", 1)[-1])
