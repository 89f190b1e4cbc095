"""Migration 0007 on a populated database: live raw records and quotes keep their rows, the
backfill tables take windows (their states checked) and history responses, and it reverses."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from kasparro.db.migrate import alembic_config

SEED_AT_0006 = """
INSERT INTO etl_runs (id, batch_id, source, status, started_at)
VALUES (1, '00000000-0000-0000-0000-000000000001', 'coingecko', 'success', '2026-11-30T00:00Z');
INSERT INTO raw_api_records (run_id, source, upstream_id, payload, payload_hash, page, fetched_at)
VALUES (1, 'coingecko', 'bitcoin', '{"id": "bitcoin", "current_price": 91000.5}', 'h1', 1,
        '2026-11-30T00:00Z');
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd, run_id)
VALUES ('coingecko', 'bitcoin', '2026-11-30T00:00Z', 'BTC', 'Bitcoin', 91000.5, 1);
"""
WINDOW = """
INSERT INTO backfill_windows (source, source_coin_id, interval, window_start, window_end, state,
                              reason)
VALUES ('coingecko', 'bitcoin', '1h', '2026-09-01T00:00Z', '2026-11-30T00:00Z', '{state}',
        {reason})
"""


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


async def _execute(url: str, sql: str) -> None:
    conn = await _connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = await _connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_0007_keeps_live_rows_adds_backfill_tables_and_downgrades(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    await asyncio.to_thread(command.upgrade, config, "0006")
    await _execute(fresh_url, SEED_AT_0006)

    await asyncio.to_thread(command.upgrade, config, "0007")

    assert await _fetch(
        fresh_url, "SELECT run_id, upstream_id, window_id, endpoint, params FROM raw_api_records"
    ) == [(1, "bitcoin", None, None, None)]
    assert await _fetch(fresh_url, "SELECT source_coin_id, price_usd::text FROM quotes") == [
        ("bitcoin", "91000.50000000")
    ]
    await _execute(fresh_url, WINDOW.format(state="pending", reason="NULL"))
    await _execute(
        fresh_url,
        "INSERT INTO raw_api_records (window_id, source, upstream_id, payload, payload_hash,"
        " fetched_at, endpoint, params) VALUES (1, 'coingecko', 'bitcoin', '{\"prices\": []}',"
        " 'h2', now(), '/coins/bitcoin/market_chart/range', '{\"vs_currency\": \"usd\"}')",
    )
    await _execute(
        fresh_url,
        "INSERT INTO api_call_budget (source, month, calls) VALUES ('coingecko', '2026-12-01', 1)"
        " ON CONFLICT (source, month) DO UPDATE SET calls = api_call_budget.calls + 1",
    )
    assert await _fetch(fresh_url, "SELECT calls FROM api_call_budget") == [(1,)]
    for state, reason in (("gap", "NULL"), ("gap", "'failed'"), ("failed", "NULL"),
                          ("done", "'plan_limit'"), ("lost", "NULL")):  # fmt: skip
        with pytest.raises(asyncpg.CheckViolationError):
            await _execute(
                fresh_url, WINDOW.format(state=state, reason=reason).replace("11-30", "12-01")
            )
    with pytest.raises(asyncpg.UniqueViolationError):  # one row per window
        await _execute(fresh_url, WINDOW.format(state="pending", reason="NULL"))
    with pytest.raises(asyncpg.CheckViolationError):  # a raw row belongs to a run or a window
        await _execute(
            fresh_url,
            "INSERT INTO raw_api_records (source, upstream_id, payload, payload_hash, fetched_at)"
            " VALUES ('coingecko', 'x', '{}', 'h', now())",
        )

    await asyncio.to_thread(command.downgrade, config, "0006")
    assert await _fetch(fresh_url, "SELECT run_id, upstream_id FROM raw_api_records") == [
        (1, "bitcoin")
    ]
    assert await _fetch(
        fresh_url,
        "SELECT to_regclass('backfill_windows') IS NULL, to_regclass('api_call_budget') IS NULL",
    ) == [(True, True)]
    await asyncio.to_thread(command.upgrade, config, "head")
    assert len(await _fetch(fresh_url, "SELECT 1 FROM quotes")) == 1
