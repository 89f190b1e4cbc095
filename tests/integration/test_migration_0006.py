"""Migration 0006 on a populated database: mappings keep their rows, and it reverses."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import text

from kasparro.db.engine import create_engine
from kasparro.db.migrate import alembic_config


async def _run(url: str, *statements: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            results = [(await conn.execute(text(s))) for s in statements]
            return [r.all() if r.returns_rows else None for r in results]
    finally:
        await engine.dispose()


def test_0006_keeps_mappings_adds_the_evidence_tables_and_downgrades(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    try:
        asyncio.run(_run(
            database_url,
            "TRUNCATE assets, asset_mappings CASCADE",
            "INSERT INTO assets (asset_id, ticker, name) VALUES ('iota', 'IOTA', 'IOTA')",
            "INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)"
            " VALUES ('coinpaprika', 'miota-iota', 'iota', 'MIOTA', 'IOTA', 'new')",
        ))  # fmt: skip
        command.upgrade(config, "0006")
        rows = asyncio.run(_run(
            database_url,
            "SELECT asset_id, method, confidence, evidence FROM asset_mappings",
            "INSERT INTO asset_mapping_events (source, source_coin_id, from_asset_id,"
            " to_asset_id, method, score, evidence) VALUES ('coingecko', 'iota', NULL, 'iota',"
            " 'evidence', 0.85, '{\"ticker\": false, \"name\": 1.0}')",
            "INSERT INTO coin_contracts (source, source_coin_id, platform, address)"
            " VALUES ('coingecko', 'usd-coin', 'ethereum', '0xa0b8')",
            "SELECT to_asset_id, score, evidence->>'name' FROM asset_mapping_events",
        ))  # fmt: skip
        assert [tuple(r) for r in rows[0]] == [("iota", "new", None, None)]
        assert [(r[0], str(r[1]), r[2]) for r in rows[3]] == [("iota", "0.8500", "1.0")]
        command.downgrade(config, "0005")
        after = asyncio.run(_run(
            database_url,
            "SELECT asset_id, method FROM asset_mappings",
            "SELECT to_regclass('asset_mapping_events') IS NULL,"
            " to_regclass('coin_contracts') IS NULL",
        ))  # fmt: skip
        assert [tuple(r) for r in after[0]] == [("iota", "new")]
        assert tuple(after[1][0]) == (True, True)
    finally:
        command.upgrade(config, "head")
        asyncio.run(_run(database_url, "TRUNCATE assets, asset_mappings CASCADE"))
