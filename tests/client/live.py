"""A live `kasparro serve` over a seeded database for the client's tests, and the API's own
JSON to compare the client's results with."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from tests.api.export_seed import seed_history
from tests.api.seed import quote, seed
from tests.fixtures.servers import ALL_TABLES
from tests.observability.seed_runs import seed_run

# More digits than a float holds, in a plain NUMERIC column (market caps keep any scale).
WIDE_CAP = "123456789012345678901234.123456789"
RUNS_T0 = datetime(2026, 1, 1, tzinfo=UTC)
RUN_PLAN = [("csv", "success"), ("coinpaprika", "failure"), ("csv", "success"),
            ("coingecko", "success"), ("csv", "failure")]  # fmt: skip


async def seed_everything(engine: AsyncEngine) -> None:
    """btc and eth with ~25 hours of history from three sources (tests/api/export_seed.py),
    three more assets, one with a market cap wider than a float, and five runs."""
    async with engine.begin() as conn:
        tables = await conn.scalar(text(ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await seed_history(engine)
    await seed(engine, [
        quote("SOL", "180.12345678", market_cap="90000000000", at="2025-03-02T00:00:00"),
        quote("ADA", "0.00000001", market_cap="100", at="2025-03-02T00:00:00"),
        quote("EXA", "1.23456789", market_cap=WIDE_CAP, at="2025-03-02T00:00:00"),
    ])  # fmt: skip
    for i, (source, status) in enumerate(RUN_PLAN):
        await seed_run(
            engine, source=source, status=status, started_at=RUNS_T0 + timedelta(hours=i)
        )


def api_json(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(base + path, params=params)
    assert response.status_code == 200, response.text
    return loads_exact(response.content)


def api_history(base: str, asset_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every point of `/assets/{id}/history`, walking the cursor by hand."""
    points: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api_json(base, f"/assets/{asset_id}/history",
                        **params, limit=41, **({"cursor": cursor} if cursor else {}))  # fmt: skip
        points += page["data"]
        if (cursor := page["pagination"]["next_cursor"]) is None:
            return points


def as_json(model: Any) -> Any:
    """A client model back in the API's JSON terms: instants as `…Z` text, tuples as lists."""
    if dataclasses.is_dataclass(model) and not isinstance(model, type):
        return {f.name: as_json(getattr(model, f.name)) for f in dataclasses.fields(model)}
    if isinstance(model, datetime):
        return model.isoformat().replace("+00:00", "Z")
    if isinstance(model, tuple | list):
        return [as_json(item) for item in model]
    return model


def exact(value: Any) -> Any:
    """JSON integers in amount fields are Decimals in the client."""
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value
