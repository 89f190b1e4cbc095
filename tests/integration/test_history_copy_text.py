"""The history's COPY text carries every character a name or coin id may hold: what is stored is
what the source said, on the plain-COPY path of fresh rows and on the checking path alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.quote import Quote
from kasparro.pipeline.load import Batch, store_quotes
from kasparro.repositories.driver import begin
from tests.helpers import no_overrides, rows

AT = datetime(2025, 3, 1, 12, 0, 1, 250_000, tzinfo=UTC)
AWKWARD = [  # (coin id, ticker, name)
    ("tab\tcoin", "T\tB", "Name\twith tab"),
    ("line-coin", "NL", "two\nlines\r\nand a return\r"),
    ("back\\slash", "BS", "C:\\path\\N and \\. and \\\\"),
    ("\\N", "\\N", "\\N"),  # the text format's NULL marker, as text
    ("quote-coin", 'Q"', 'He said "hi", twice,'),
    ("unicode-coin", "ÜNI", "Ünïcødé ₿ 🚀"),
    ("no-name", "NN", None),
]


def _quotes(offset: timedelta) -> list[Quote]:
    return [
        Quote(
            source="coingecko", source_coin_id=coin, ticker=ticker, name=name,
            price_usd=Decimal("1.23456789"), market_cap_usd=None,
            volume_24h_usd=Decimal("1E+3"), percent_change_24h=Decimal("-0.5"),
            created_at=AT + offset,
        )
        for coin, ticker, name in AWKWARD
    ]  # fmt: skip


@pytest.mark.parametrize("fresh", [True, False])
async def test_awkward_text_is_stored_exactly(db: AsyncEngine, fresh: bool) -> None:
    async with begin(db) as tx:
        await store_quotes(tx, no_overrides(), Batch("coingecko", None, _quotes(timedelta()),
                                                     fresh=fresh))  # fmt: skip
    # a second batch that repeats the first: the checking path skips what is stored
    async with begin(db) as tx:
        again = _quotes(timedelta()) + _quotes(timedelta(minutes=5))
        result = await store_quotes(tx, no_overrides(), Batch("coingecko", None, again,
                                                              fresh=fresh))  # fmt: skip
    assert result.history_added == len(AWKWARD)

    stored = await rows(
        db,
        "SELECT source_coin_id, ticker, name, observed_at, price_usd::text AS price,"
        " market_cap_usd, volume_24h_usd::text AS volume, percent_change_24h::text AS change"
        " FROM quotes ORDER BY source_coin_id, observed_at",
    )
    expected = sorted(
        (coin, ticker, name, AT + offset)
        for coin, ticker, name in AWKWARD
        for offset in (timedelta(), timedelta(minutes=5))
    )
    assert [(r["source_coin_id"], r["ticker"], r["name"], r["observed_at"]) for r in stored] == (
        expected
    )
    assert {(r["price"], r["market_cap_usd"], r["volume"], r["change"]) for r in stored} == {
        ("1.23456789", None, "1000", "-0.5")
    }
    buckets = await rows(db, "SELECT count(*) AS n FROM quote_rollups WHERE interval = '5m'")
    assert buckets[0]["n"] == 2 * len(AWKWARD)
