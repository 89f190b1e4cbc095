"""Read queries for `/assets`: canonical assets with their consensus, flags and sources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import Asset, AssetLatest, AssetMapping, NormalizedRecord
from kasparro.repositories.normalized_read import RankKey, after_rank

A = Asset
L = AssetLatest
M = AssetMapping
N = NormalizedRecord
FLAGS = ("divergent", "stale", "ambiguous_mapping")


@dataclass(frozen=True, slots=True)
class FlagRules:
    """Thresholds that turn an asset's figures into flags (settings, applied at read time)."""

    divergence_pct: Decimal
    stale_before: datetime


@dataclass(frozen=True, slots=True)
class AssetFilter:
    ticker: str | None = None
    flag: str | None = None


def _ambiguous(asset_id: Any) -> ColumnElement[bool]:
    return exists().where(M.asset_id == asset_id, M.ambiguous)


def _flag_condition(flag: str, rules: FlagRules) -> ColumnElement[bool]:
    if flag == "divergent":
        return L.divergence_pct > rules.divergence_pct
    if flag == "stale":
        return L.oldest_quote_at < rules.stale_before
    return _ambiguous(L.asset_id)


def _assets(flt: AssetFilter, rules: FlagRules) -> Select[*tuple[Any, ...]]:
    stmt = select(
        A.asset_id, A.ticker, A.name, L.consensus_price_usd, L.divergence_pct,
        L.source_count, L.market_cap_usd, L.oldest_quote_at, L.newest_quote_at,
        _ambiguous(A.asset_id).label("ambiguous"),
    ).join(L, L.asset_id == A.asset_id)  # fmt: skip
    if flt.ticker is not None:
        stmt = stmt.where(exists().where(M.asset_id == A.asset_id, M.ticker == flt.ticker))
    if flt.flag is not None:
        stmt = stmt.where(_flag_condition(flt.flag, rules))
    return stmt


def flags_of(row: dict[str, Any], rules: FlagRules) -> list[str]:
    flags = []
    if row["divergence_pct"] is not None and row["divergence_pct"] > rules.divergence_pct:
        flags.append("divergent")
    if row["oldest_quote_at"] < rules.stale_before:
        flags.append("stale")
    if row["ambiguous"]:
        flags.append("ambiguous_mapping")
    return flags


def _as_dicts(result: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row._mapping.items()} for row in result]


async def page_of_assets(
    conn: AsyncConnection,
    flt: AssetFilter,
    rules: FlagRules,
    limit: int,
    offset: int,
    after: RankKey | None = None,
) -> list[dict[str, Any]]:
    stmt = _assets(flt, rules)
    if after is not None:
        stmt = stmt.where(after_rank(L.market_cap_usd, L.asset_id, after))
    stmt = stmt.order_by(L.market_cap_usd.desc().nulls_last(), L.asset_id)
    return _as_dicts(await conn.execute(stmt.limit(limit).offset(offset)))


async def count_assets(conn: AsyncConnection, flt: AssetFilter, rules: FlagRules) -> int:
    counted = _assets(flt, rules).subquery()
    return int(await conn.scalar(select(func.count()).select_from(counted)) or 0)


async def one_asset(
    conn: AsyncConnection, asset_id: str, rules: FlagRules
) -> dict[str, Any] | None:
    rows = _as_dicts(
        await conn.execute(_assets(AssetFilter(), rules).where(A.asset_id == asset_id))
    )
    return rows[0] if rows else None


async def source_quotes(
    conn: AsyncConnection, asset_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each asset's latest quote per source, by source name."""
    stmt = (
        select(
            M.asset_id,
            N.source,
            N.source_coin_id,
            N.ticker,
            N.price_usd,
            N.created_at.label("observed_at"),
        )
        .join(N, N.id == M.source + "_" + M.source_coin_id)
        .where(M.asset_id.in_(asset_ids))
        .ext(distinct_on(M.asset_id, N.source))
        .order_by(M.asset_id, N.source, N.created_at.desc(), N.id)
    )
    by_asset: dict[str, list[dict[str, Any]]] = {a: [] for a in asset_ids}
    for row in _as_dicts(await conn.execute(stmt)):
        by_asset[row.pop("asset_id")].append(row)
    return by_asset


async def asset_ids_for_ticker(conn: AsyncConnection, ticker: str) -> list[str]:
    stmt = select(M.asset_id).where(M.ticker == ticker).distinct().order_by(M.asset_id)
    return list((await conn.scalars(stmt)).all())


async def mappings_of(conn: AsyncConnection, asset_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(M.source, M.source_coin_id, M.ticker, M.name, M.method, M.ambiguous)
        .where(M.asset_id == asset_id)
        .order_by(M.source, M.source_coin_id)
    )
    return _as_dicts(await conn.execute(stmt))


async def asset_exists(conn: AsyncConnection, asset_id: str) -> bool:
    return bool(await conn.scalar(select(exists().where(A.asset_id == asset_id))))
