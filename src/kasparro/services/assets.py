"""The `/assets` read model: canonical assets with consensus price, sources, flags, history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from kasparro.config import Settings
from kasparro.domain.consensus_evidence import SourceQuote, consensus
from kasparro.domain.flags import FlagRules, asset_flags, is_stale
from kasparro.domain.history_fill import Stretches, Tail, fill_previous
from kasparro.domain.identity import is_valid_asset_id
from kasparro.domain.platforms import CANONICAL_SOURCE, canonical_contract
from kasparro.domain.queries import AssetFilter, HistoryFilter, ObservationKey, RankKey
from kasparro.errors import NotFoundError
from kasparro.repositories import assets_read, history
from kasparro.repositories.driver import Reads
from kasparro.repositories.history import INTERVALS
from kasparro.services.asset_lookup import require_asset, unknown_asset
from kasparro.services.coverage import covered_stretches
from kasparro.services.paging import exact_total, trim_extra


def flag_rules(settings: Settings, now: datetime | None = None) -> FlagRules:
    now = now or datetime.now(UTC)
    return FlagRules(
        divergence_pct=settings.divergence_threshold_pct,
        stale_before=now - timedelta(seconds=settings.stale_after_seconds),
    )


def _consensus(quotes: list[dict[str, Any]], rules: FlagRules) -> dict[str, Any]:
    """The consensus of the sources' latest quotes, with who voted and why others did not."""
    voters = [
        SourceQuote(q["source"], q["price_usd"], q["observed_at"], q.pop("ambiguous", False))
        for q in quotes
    ]
    # `stale_before` is now - STALE_AFTER_SECONDS: stale means observed before it, as flags say
    result = consensus(voters, rules.stale_before, timedelta(0), rules.divergence_pct)
    return {
        "price_usd": result.price_usd,
        "method": result.method,
        "used": result.used,
        "excluded": [
            {"source": e.source, "reason": e.reason, "price_usd": e.price_usd}
            for e in result.excluded
        ],
    }


@dataclass(frozen=True, slots=True)
class AssetPage:
    assets: list[dict[str, Any]]
    total: int
    next_key: RankKey | None


def _entry(row: dict[str, Any], quotes: list[dict[str, Any]], rules: FlagRules) -> dict[str, Any]:
    for quote in quotes:
        quote["stale"] = is_stale(quote["observed_at"], rules)
    shown = _consensus(quotes, rules)
    return {
        "asset_id": row["asset_id"],
        "ticker": row["ticker"],
        "name": row["name"],
        "price_usd": shown["price_usd"] or row["consensus_price_usd"],
        "consensus": shown,
        "market_cap_usd": row["market_cap_usd"],
        "divergence_pct": row["divergence_pct"],
        "flags": asset_flags(
            row["divergence_pct"], row["oldest_quote_at"], row["ambiguous"], rules
        ),
        "last_observed_at": row["newest_quote_at"],
        "sources": quotes,
    }


async def _entries(
    driver: Reads, rows: list[dict[str, Any]], rules: FlagRules
) -> list[dict[str, Any]]:
    quotes = await assets_read.source_quotes(driver, [r["asset_id"] for r in rows])
    return [_entry(r, quotes[r["asset_id"]], rules) for r in rows]


async def list_assets(
    driver: Reads,
    flt: AssetFilter,
    rules: FlagRules,
    limit: int,
    offset: int,
    after: RankKey | None,
) -> AssetPage:
    rows = await assets_read.page_of_assets(driver, flt, rules, limit + 1, offset, after)
    more = trim_extra(rows, limit)
    first = offset == 0 and after is None
    total = await exact_total(
        len(rows), first, more, lambda: assets_read.count_assets(driver, flt, rules)
    )
    next_key = RankKey(rows[-1]["market_cap_usd"], rows[-1]["asset_id"]) if more else None
    return AssetPage(await _entries(driver, rows, rules), total, next_key)


async def get_asset(driver: Reads, asset_id: str, rules: FlagRules) -> dict[str, Any]:
    row = await assets_read.one_asset(driver, asset_id) if is_valid_asset_id(asset_id) else None
    if row is None:
        raise unknown_asset(asset_id)
    (entry,) = await _entries(driver, [row], rules)
    entry["mappings"] = await assets_read.mappings_of(driver, asset_id)
    return entry


@dataclass(frozen=True, slots=True)
class HistoryPage:
    points: list[dict[str, Any]]
    next_cursor: tuple[Any, ...] | None


async def asset_history(
    driver: Reads,
    flt: HistoryFilter,
    interval: str,
    limit: int,
    after: ObservationKey | datetime | None,
    fill: FillPrevious | None = None,
) -> HistoryPage:
    """Raw observations or OHLC buckets, oldest first; the cursor is the next page's start."""
    await require_asset(driver, flt.asset_id)
    if interval == "raw":
        key = after if isinstance(after, ObservationKey) else None
        points = await history.observations(driver, flt, limit + 1, key)
        if not trim_extra(points, limit):
            return HistoryPage(points, None)
        last = points[-1]
        return HistoryPage(points, (last["observed_at"], last["source"], last["source_coin_id"]))
    start = after if isinstance(after, datetime) else None
    points = await history.buckets(driver, flt, interval, limit + 1, start)
    width = INTERVALS[interval]
    if fill is not None:
        points = await _filled(driver, flt, width, points, start, limit, fill)
    for point in points:
        point["end"] = point["start"] + width
        del point["last_at"]
    next_start = points[limit]["start"] if len(points) > limit else None  # the extra bucket
    trim_extra(points, limit)
    return HistoryPage(points, None if next_start is None else (next_start,))


@dataclass(frozen=True, slots=True)
class FillPrevious:
    """`fill=previous`: live snapshots are expected `cadence` apart (see services.coverage)."""

    cadence: timedelta


async def _filled(
    driver: Reads,
    flt: HistoryFilter,
    width: timedelta,
    points: list[dict[str, Any]],
    start: datetime | None,
    limit: int,
    fill: FillPrevious,
) -> list[dict[str, Any]]:
    """The page's candles with the empty buckets inside covered stretches filled, `limit + 1`
    at most (the extra one is the next page's start, filled or not)."""
    carried = None if start is None else await history.last_before(driver, flt, start)
    tail = None if carried is None else Tail(carried["price_usd"], carried["observed_at"])
    if tail is None and not points:
        return points
    # the stretches that matter: from the carried observation to the last candle fetched
    lower = tail.last_at if tail else points[0]["start"]
    upper = points[limit]["start"] + width if len(points) > limit else flt.end
    spans = await covered_stretches(driver, flt.asset_id, flt.source, fill.cadence, lower, upper)
    tails = [(p["start"], Tail(p["close"], p["last_at"])) for p in points]
    steps = fill_previous(tails, width, Stretches(spans), tail, start, flt.end)
    out = []
    for step in islice(steps, limit + 1):
        if step.index is None:
            c = step.close
            out.append({"start": step.start, "open": c, "high": c, "low": c, "close": c,
                        "market_cap_usd": None, "volume_24h_usd": None, "count": 0,
                        "last_at": None, "filled": True})  # fmt: skip
        else:
            out.append(points[step.index] | {"filled": False})
    return out


async def review(driver: Reads, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Suggested pairs kept apart (most likely first), then ambiguous mappings."""
    return await assets_read.review_items(driver, limit, offset)


async def resolve_coin(
    driver: Reads, source: str, coin_id: str, rules: FlagRules
) -> dict[str, Any]:
    """The asset a source's coin is on."""
    asset_id = await assets_read.asset_of_coin(driver, source, coin_id)
    if asset_id is None:
        raise NotFoundError(
            f"No asset for {source} coin {coin_id[:80]!r}: use the source's own coin id "
            "(e.g. coingecko 'bitcoin', coinpaprika 'btc-bitcoin'; for csv, the ticker)"
        )
    return await get_asset(driver, asset_id, rules)


async def resolve_contract(
    driver: Reads, platform: str, address: str, rules: FlagRules
) -> dict[str, Any]:
    """The asset whose coin lists this token contract (platform as CoinGecko names it)."""
    key = canonical_contract(CANONICAL_SOURCE, platform, address)
    found = await assets_read.assets_of_contract(driver, *key)
    if not found:
        raise NotFoundError(
            f"No asset with contract {address[:100]!r} on {platform[:40]!r}: platforms are "
            "named as CoinGecko names them (e.g. 'ethereum'); contracts come from "
            "`kasparro catalog refresh`"
        )
    return await get_asset(driver, found[0], rules)
