"""Seed quotes directly (latest, history and assets, as a batch stores them), for read-side
tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.normalize import normalize_price
from kasparro.domain.quote import Quote
from kasparro.repositories import history
from kasparro.repositories.driver import driver_connection
from kasparro.repositories.normalized_write import upsert_latest
from tests.helpers import no_overrides


def quote(
    ticker: str,
    price: str,
    *,
    source: str = "csv",
    coin: str | None = None,
    market_cap: str | None = None,
    at: str = "2024-01-15T10:00:00",
) -> Quote:
    return Quote(
        source=source,
        source_coin_id=coin or ticker.lower(),
        ticker=ticker,
        name=ticker.title(),
        price_usd=normalize_price(Decimal(price)),
        market_cap_usd=None if market_cap is None else Decimal(market_cap),
        volume_24h_usd=None,
        percent_change_24h=None,
        created_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
    )


async def seed(engine: AsyncEngine, quotes: list[Quote]) -> None:
    async with engine.begin() as conn:
        driver = await driver_connection(conn)
        await upsert_latest(driver, quotes, run_id=None)  # type: ignore[arg-type]
        await history.add(driver, quotes, run_id=0)
        await no_overrides().attach(driver, quotes)
