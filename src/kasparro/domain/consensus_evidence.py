"""An asset's consensus price that shows its work: which sources voted and why others did not.

Rules (issue 14, item 8):
- a quote from an ambiguous mapping does not vote while an unambiguous one exists;
- a stale quote (older than `STALE_AFTER_SECONDS`) does not vote while a fresh one exists;
- with three or more voters, one further from their median than both the divergence threshold
  (percent of the median) and 3 x the median absolute deviation is an outlier and does not vote;
- one voter: its price (`single`); two: their mean (`mean`); more: the median (`median`),
  exact Decimal rounded to 8 places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

_PLACES = Decimal("0.00000001")
_MAD_FACTOR = 3


@dataclass(frozen=True, slots=True)
class SourceQuote:
    source: str
    price_usd: Decimal
    observed_at: datetime
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class Excluded:
    source: str
    reason: str  # "stale" | "outlier" | "ambiguous_mapping"
    price_usd: Decimal


@dataclass(frozen=True, slots=True)
class Consensus:
    price_usd: Decimal | None
    method: str | None  # "median" | "mean" | "single"
    used: list[str] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def _drop(
    quotes: list[SourceQuote], out: list[Excluded], reason: str, bad: set[int]
) -> list[SourceQuote]:
    """Drop the quotes at `bad` (unless that would leave none), noting why."""
    if not bad or len(bad) == len(quotes):
        return quotes
    out += [Excluded(q.source, reason, q.price_usd) for i, q in enumerate(quotes) if i in bad]
    return [q for i, q in enumerate(quotes) if i not in bad]


def _outliers(quotes: list[SourceQuote], threshold_pct: Decimal) -> set[int]:
    if len(quotes) < 3:
        return set()
    median = _median([q.price_usd for q in quotes])
    if median <= 0:
        return set()
    mad = _median([abs(q.price_usd - median) for q in quotes])
    return {
        i
        for i, q in enumerate(quotes)
        if abs(q.price_usd - median) * 100 / median > threshold_pct
        and abs(q.price_usd - median) > _MAD_FACTOR * mad
    }


def consensus(
    quotes: Sequence[SourceQuote], now: datetime, stale_after: timedelta, threshold_pct: Decimal
) -> Consensus:
    """The consensus of each source's latest quote of one asset."""
    voters = sorted(quotes, key=lambda q: q.source)
    excluded: list[Excluded] = []
    voters = _drop(voters, excluded, "ambiguous_mapping", {
        i for i, q in enumerate(voters) if q.ambiguous
    })  # fmt: skip
    voters = _drop(voters, excluded, "stale", {
        i for i, q in enumerate(voters) if now - q.observed_at > stale_after
    })  # fmt: skip
    voters = _drop(voters, excluded, "outlier", _outliers(voters, threshold_pct))
    if not voters:
        return Consensus(None, None)
    method = {1: "single", 2: "mean"}.get(len(voters), "median")
    price = _median([q.price_usd for q in voters]).quantize(_PLACES)
    return Consensus(price, method, [q.source for q in voters], excluded)
