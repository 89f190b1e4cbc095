"""A history for the export tests: two assets, three sources, ties at one instant, exact
decimals with 8 places, missing values; and a reader of the JSON history, page by page."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from kasparro.domain.quote import Quote
from tests.api.seed import quote, seed

BASE = datetime(2025, 3, 1, tzinfo=UTC)
STEPS = 150  # every 10 minutes: ~25 hours, several pages of 100 rows per asset


def _observations(i: int) -> list[Quote]:
    at = (BASE + timedelta(minutes=10 * i)).replace(tzinfo=None).isoformat()
    later = (BASE + timedelta(minutes=10 * i + 3)).replace(tzinfo=None).isoformat()
    price = Decimal("96114.08481739") + Decimal(i) / 7
    return [
        quote("BTC", str(price), source="coinpaprika", coin="btc-bitcoin", at=at,
              market_cap=f"1912345678901.{i:03d}" if i % 5 else None, volume=str(1000 + i)),
        quote("BTC", str(price + Decimal("0.5")), source="coingecko", coin="bitcoin", at=at,
              market_cap="1912345678901"),  # the same instant as coinpaprika's: a tie
        quote("BTC", str(price - 1), source="csv", at=later),
        quote("ETH", str(Decimal("3000.00000001") + i), source="coingecko", coin="ethereum",
              at=later, volume="12.5"),
    ]  # fmt: skip


async def seed_history(db: AsyncEngine) -> None:
    quotes = [q for i in range(STEPS) for q in _observations(i)]
    changes = [dataclasses.replace(q, percent_change_24h=Decimal("-1.25")) for q in quotes[:7]]
    await seed(db, changes + quotes[7:])


async def json_history(
    client: httpx.AsyncClient, asset_id: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every point of `/assets/{id}/history` with these params, walking the cursor."""
    points: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page_params = params | {"limit": 37} | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/assets/{asset_id}/history", params=page_params)
        assert response.status_code == 200, response.text
        page = loads_exact(response.content)
        points += page["data"]
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            return points
