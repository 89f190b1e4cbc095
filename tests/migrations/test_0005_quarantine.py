"""Migration 0005 on a populated database: implausible stored quotes are quarantined with their
reason, what they fed is recomputed, reads answer 200 again, and the migration reverses."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from alembic import command

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.db.migrate import alembic_config

SEED_AT_0004 = """
INSERT INTO assets (asset_id, ticker, name) VALUES ('bitcoin', 'BTC', 'Bitcoin'),
                                                   ('ethereum', 'ETH', 'Ethereum');
INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
VALUES ('csv', 'btc', 'bitcoin', 'BTC', 'Bitcoin', 'new'),
       ('csv', 'eth', 'ethereum', 'ETH', 'Ethereum', 'new');
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd, run_id,
                    ingested_at)
VALUES ('csv', 'btc', '2025-01-01T00:00Z', 'BTC', 'Bitcoin', 100, 1, '2025-01-01T00:01Z'),
       ('csv', 'btc', '9999-12-31T00:00Z', 'BTC', 'Bitcoin', 0.01, 2, '2025-01-02T00:00Z'),
       ('csv', 'btc', '-infinity', 'BTC', 'Bitcoin', 5, 3, '2025-01-03T00:00Z'),
       ('csv', 'eth', '0001-01-01T00:00Z', 'ETH', 'Ethereum', 3, 3, '2025-01-03T00:00Z');
INSERT INTO normalized_records (id, source, source_coin_id, ticker, name, price_usd,
                                market_cap_usd, created_at, ingested_at)
VALUES ('csv_btc', 'csv', 'btc', 'BTC', 'Bitcoin', 0.01, NULL, '9999-12-31T00:00Z',
        '2025-01-02T00:00Z'),
       ('csv_eth', 'csv', 'eth', 'ETH', 'Ethereum', 3, 1e40, '-infinity', '2025-01-03T00:00Z');
INSERT INTO asset_latest (asset_id, record_id, market_cap_usd, consensus_price_usd,
                          divergence_pct, source_count, oldest_quote_at, newest_quote_at)
VALUES ('bitcoin', 'csv_btc', NULL, 0.01, 0, 1, '9999-12-31T00:00Z', '9999-12-31T00:00Z'),
       ('ethereum', 'csv_eth', 1e40, 3, 0, 1, '-infinity', '-infinity');
"""


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _reads(url: str) -> dict[str, httpx.Response]:
    settings = Settings(_env_file=None, database_url=url, etl_sources="csv")  # type: ignore[call-arg]
    app = create_app(settings, database_url=url)
    paths = ("/data?ticker=BTC", "/assets", "/assets/bitcoin", "/assets/ethereum",
             "/assets/bitcoin/history?interval=1d", "/assets/bitcoin/history")  # fmt: skip
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return {path: await client.get(path) for path in paths}


async def test_implausible_quotes_are_quarantined_and_reads_answer(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    await asyncio.to_thread(command.upgrade, config, "0004")
    await _execute(fresh_url, SEED_AT_0004)

    await asyncio.to_thread(command.upgrade, config, "0005")

    quarantined = await _fetch(
        fresh_url,
        "SELECT source_coin_id, observed_at::text AS at, reason FROM quarantined_quotes "
        "ORDER BY 1, 2",
    )
    assert [(r["source_coin_id"], r["at"]) for r in quarantined] == [
        ("btc", "-infinity"), ("btc", "9999-12-31 00:00:00+00"),
        ("eth", "-infinity"), ("eth", "0001-01-01 00:00:00+00"),  # its latest quote, and a quote
    ]  # fmt: skip
    assert [r["reason"] for r in quarantined] == [
        "timestamp is before 2009-01-03",
        "timestamp is more than 300 s after ingest time",
        "timestamp is before 2009-01-03",
        "timestamp is before 2009-01-03",
    ]
    assert [r["observed_at"] for r in await _fetch(fresh_url, "SELECT observed_at FROM quotes")] == [
        r["observed_at"] for r in await _fetch(
            fresh_url, "SELECT '2025-01-01T00:00Z'::timestamptz AS observed_at")
    ]  # fmt: skip
    latest = await _fetch(fresh_url, "SELECT id, price_usd FROM normalized_records")
    assert [(r["id"], str(r["price_usd"])) for r in latest] == [("csv_btc", "100.00000000")]
    assets = await _fetch(fresh_url, "SELECT asset_id, consensus_price_usd FROM asset_latest")
    assert [(r["asset_id"], str(r["consensus_price_usd"])) for r in assets] == [
        ("bitcoin", "100.00000000")
    ]

    await asyncio.to_thread(command.upgrade, config, "head")  # the reads expect today's schema
    responses = await _reads(fresh_url)
    for path, response in responses.items():
        assert response.status_code in (200, 404), (path, response.text)
    assert responses["/data?ticker=BTC"].json()["data"][0]["price_usd"] == 100
    assert responses["/assets/bitcoin/history"].status_code == 200

    await asyncio.to_thread(command.downgrade, config, "0004")
    assert len(await _fetch(fresh_url, "SELECT 1 FROM quotes")) == 5  # observations back
    await asyncio.to_thread(command.upgrade, config, "head")
    assert len(await _fetch(fresh_url, "SELECT 1 FROM quarantined_quotes")) == 4
