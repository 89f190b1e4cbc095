"""Typed, frozen results of the API, and their decoding from exact JSON.

Amounts are `Decimal`s with every digit the server sent, or `float`s for a client made with
`floats=True`; instants are aware UTC `datetime`s; lists are tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

# Decimal unless the client was made with floats=True.
Amount = Decimal | float


@dataclass(frozen=True, slots=True)
class SourceQuote:
    source: str
    source_coin_id: str
    ticker: str
    price_usd: Amount
    observed_at: datetime
    stale: bool


@dataclass(frozen=True, slots=True)
class ExcludedQuote:
    source: str
    reason: str  # stale | outlier | ambiguous_mapping
    price_usd: Amount


@dataclass(frozen=True, slots=True)
class Consensus:
    price_usd: Amount | None
    method: str | None  # median | mean | single
    used: tuple[str, ...]
    excluded: tuple[ExcludedQuote, ...]


@dataclass(frozen=True, slots=True)
class Asset:
    """One canonical asset: its consensus price, flags and each source's latest quote."""

    asset_id: str
    ticker: str
    name: str | None
    price_usd: Amount
    market_cap_usd: Amount | None
    divergence_pct: Amount | None
    flags: tuple[str, ...]
    last_observed_at: datetime
    sources: tuple[SourceQuote, ...]
    consensus: Consensus


@dataclass(frozen=True, slots=True)
class Mapping:
    """How one source's coin was mapped to the asset."""

    source: str
    source_coin_id: str
    ticker: str
    name: str | None
    method: str
    ambiguous: bool
    confidence: Amount | None
    evidence: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AssetDetail(Asset):
    """`GET /assets/{asset_id}`: the asset and its coins' mappings."""

    mappings: tuple[Mapping, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """One raw quote of the history (`interval="raw"`)."""

    observed_at: datetime
    source: str
    source_coin_id: str
    ticker: str
    price_usd: Amount
    market_cap_usd: Amount | None
    volume_24h_usd: Amount | None
    percent_change_24h: Amount | None


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLC bucket `[start, end)` of the history (`interval="5m"|"1h"|"1d"`)."""

    start: datetime
    end: datetime
    open: Amount
    high: Amount
    low: Amount
    close: Amount
    market_cap_usd: Amount | None
    volume_24h_usd: Amount | None
    count: int


@dataclass(frozen=True, slots=True)
class Run:
    """One ETL run of one source."""

    id: int
    batch_id: str
    source: str
    status: str  # running | success | failure
    processed: int
    failed: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    message: str | None


@dataclass(frozen=True, slots=True)
class CoveredRange:
    start: datetime
    end: datetime
    interval: str  # 5m | 1h | 1d | live
    observations: int


@dataclass(frozen=True, slots=True)
class Gap:
    start: datetime
    end: datetime
    reason: str  # not_fetched | upstream_empty | plan_limit | failed | not_observed
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceCoverage:
    source: str
    source_coin_id: str
    ranges: tuple[CoveredRange, ...]
    gaps: tuple[Gap, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """`GET /assets/{asset_id}/coverage`: per source coin, what is stored and why not the rest."""

    asset_id: str
    sources: tuple[SourceCoverage, ...]
    live_cadence_seconds: int


# Stream events: `id` is the event's id, what a reconnection sends as Last-Event-ID.


@dataclass(frozen=True, slots=True)
class QuoteEvent:
    """A new latest quote for an asset from one source."""

    id: int
    asset_id: str
    source: str
    source_coin_id: str
    ticker: str
    price_usd: Amount
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class ConsensusEvent:
    """An asset's consensus price or flags changed."""

    id: int
    asset_id: str
    price_usd: Amount | None
    divergence_pct: Amount | None
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """A run started or finished; `run` as `GET /runs` lists it."""

    id: int
    run: Run


@dataclass(frozen=True, slots=True)
class GapEvent:
    """Events after `last_event_id` were missed: they are older than the server's replay
    window, which now begins at `oldest_id` (None: nothing is kept)."""

    id: int
    last_event_id: int
    oldest_id: int | None


Event = QuoteEvent | ConsensusEvent | RunEvent | GapEvent
