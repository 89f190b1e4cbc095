"""Migration 0011 on a populated database whose oldest months retention already dropped: it
records exactly those months (rollups left, no partition), changes no row, and reverses."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from kasparro.db.migrate import alembic_config
from tests.migrations.test_0009_partitions import SEED_AT_0008

ROLLUPS = "SELECT * FROM quote_rollups ORDER BY source, source_coin_id, interval, bucket_start"
QUOTES = "SELECT * FROM quotes ORDER BY source, source_coin_id, observed_at"
PRUNED = "SELECT month::text FROM quote_pruned_months ORDER BY month"


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


async def test_0011_records_the_months_already_pruned_and_downgrades(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    await asyncio.to_thread(command.upgrade, config, "0007")
    conn = await _connect(fresh_url)
    try:
        await conn.execute(SEED_AT_0008)
    finally:
        await conn.close()
    await asyncio.to_thread(command.upgrade, config, "0009")  # rollups filled, then partitioned
    conn = await _connect(fresh_url)
    try:
        in_2019 = await conn.fetchval(
            "SELECT count(*) FROM quote_rollups WHERE bucket_start < '2020-01-01'"
        )
        assert in_2019 > 0
        await conn.execute("DROP TABLE quotes_y2019m01, quotes_y2019m02")  # pruned before 0011
        quotes = [tuple(r) for r in await conn.fetch(QUOTES)]
        rollups = [tuple(r) for r in await conn.fetch(ROLLUPS)]
    finally:
        await conn.close()
    assert len(quotes) == 2000  # the 2019 months held 1,000

    await asyncio.to_thread(command.upgrade, config, "0011")

    conn = await _connect(fresh_url)
    try:
        # only the months with rollups and no partition: not 2023's, nor the empty months
        assert [r[0] for r in await conn.fetch(PRUNED)] == ["2019-01-01", "2019-02-01"]
        assert await conn.fetchval(
            "SELECT bool_and(pruned_at > now() - INTERVAL '1 hour') FROM quote_pruned_months"
        )
        assert [tuple(r) for r in await conn.fetch(QUOTES)] == quotes
        assert [tuple(r) for r in await conn.fetch(ROLLUPS)] == rollups
        with pytest.raises(asyncpg.CheckViolationError):  # a month is its first day
            await conn.execute("INSERT INTO quote_pruned_months (month) VALUES ('2024-05-02')")
    finally:
        await conn.close()
    await asyncio.to_thread(command.downgrade, config, "0010")
    conn = await _connect(fresh_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('quote_pruned_months') IS NULL")
        assert [tuple(r) for r in await conn.fetch(ROLLUPS)] == rollups
    finally:
        await conn.close()
    await asyncio.to_thread(command.upgrade, config, "head")
    conn = await _connect(fresh_url)
    try:
        assert [r[0] for r in await conn.fetch(PRUNED)] == ["2019-01-01", "2019-02-01"]
    finally:
        await conn.close()
