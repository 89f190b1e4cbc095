"""Seed quotes directly (latest, history and assets, as a batch stores them), for read-side
tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.normalize import normalize_price
from kasparro.domain.quote import Quote
from kasparro.pipeline.load import Batch, store_quotes
from kasparro.repositories.driver import begin
from tests.helpers import no_overrides


def quote(
    ticker: str,
    price: str,
    *,
    source: str = "csv",
    coin: str | None = None,
    market_cap: str | None = None,
    at: str = "2024-01-15T10:00:00",
    name: str | None = None,
    volume: str | None = None,
) -> Quote:
    return Quote(
        source=source,
        source_coin_id=coin or ticker.lower(),
        ticker=ticker,
        name=name or ticker.title(),
        price_usd=normalize_price(Decimal(price)),
        market_cap_usd=None if market_cap is None else Decimal(market_cap),
        volume_24h_usd=None if volume is None else Decimal(volume),
        percent_change_24h=None,
        created_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
    )


async def seed(engine: AsyncEngine, quotes: list[Quote]) -> None:
    async with begin(engine) as tx:
        # one store per source, as each job stores its own batches
        for source in dict.fromkeys(q.source for q in quotes):
            batch = Batch(source, None, [q for q in quotes if q.source == source])
            await store_quotes(tx, no_overrides(), batch)
