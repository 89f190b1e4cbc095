"""An asset's summary as `asset_latest` stores it, from each source's latest quote of it.

Pure: the repository reads the quotes and writes the summary. The consensus price is the one
rule of `domain/consensus_evidence.py`, the very rule `/assets` applies when read, so the
stored price and the shown one agree (until a quote turns stale, which the API sees at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple

from kasparro.domain.consensus_evidence import consensus

_PLACES = Decimal("0.0001")
_NONE = Decimal("0.0000")  # the spread of one price
_WIDE = Context(prec=80)


class LatestQuote(NamedTuple):  # a tuple: one per source and asset on every refresh
    """One source's latest quote of an asset."""

    source: str
    record_id: str  # normalized_records.id
    price_usd: Decimal
    market_cap_usd: Decimal | None
    observed_at: datetime
    ambiguous: bool  # the source's coin is on the asset by an uncertain mapping


@dataclass(frozen=True, slots=True)
class ConsensusRules:
    """The settings the consensus applies: `STALE_AFTER_SECONDS`, `DIVERGENCE_THRESHOLD_PCT`."""

    stale_after: timedelta
    divergence_pct: Decimal


class AssetSummary(NamedTuple):  # in the column order of `asset_latest`
    asset_id: str
    record_id: str  # the freshest quote (ties: the smallest record id, as `/data` breaks them)
    market_cap_usd: Decimal | None  # the freshest known (a quote without one ranks nothing)
    consensus_price_usd: Decimal
    divergence_pct: Decimal | None  # highest minus lowest price, percent of their median
    source_count: int
    oldest_quote_at: datetime
    newest_quote_at: datetime


def divergence_pct(prices: list[Decimal]) -> Decimal | None:
    """The spread of the sources' prices in percent of their median, 4 places (None at 0)."""
    prices = sorted(prices)
    n = len(prices)
    median = _WIDE.divide(_WIDE.add(prices[(n - 1) // 2], prices[n // 2]), 2)
    if median <= 0:
        return None
    spread = _WIDE.multiply(_WIDE.subtract(prices[-1], prices[0]), 100)
    return _WIDE.divide(spread, median).quantize(_PLACES, ROUND_HALF_UP, _WIDE)


def summarize(
    asset_id: str, quotes: Sequence[LatestQuote], now: datetime, rules: ConsensusRules
) -> AssetSummary:
    """The summary of an asset quoted by at least one source."""
    price = consensus(quotes, now, rules.stale_after, rules.divergence_pct).price_usd
    if price is None:  # only without quotes: a rule never excludes every voter
        raise ValueError(f"asset {asset_id!r} has no quotes to summarize")
    if len(quotes) == 1:  # most assets: what the general case below comes to, at less cost
        (q,) = quotes
        spread = _NONE if q.price_usd > 0 else None
        return AssetSummary(asset_id, q.record_id, q.market_cap_usd, price, spread, 1,
                            q.observed_at, q.observed_at)  # fmt: skip
    freshest = capped = quotes[0]
    oldest = freshest.observed_at
    for q in quotes[1:]:
        if _fresher(q, freshest):
            freshest = q
        if capped.market_cap_usd is None or (q.market_cap_usd is not None and _fresher(q, capped)):
            capped = q
        oldest = min(oldest, q.observed_at)
    return AssetSummary(
        asset_id=asset_id,
        record_id=freshest.record_id,
        market_cap_usd=capped.market_cap_usd,
        consensus_price_usd=price,
        divergence_pct=divergence_pct([q.price_usd for q in quotes]),
        source_count=len(quotes),
        oldest_quote_at=oldest,
        newest_quote_at=freshest.observed_at,
    )


def _fresher(a: LatestQuote, b: LatestQuote) -> bool:
    """`a` was observed after `b` (at the same time: `a` has the smaller record id)."""
    return a.observed_at > b.observed_at or (
        a.observed_at == b.observed_at and a.record_id < b.record_id
    )
