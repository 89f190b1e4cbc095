"""An asset's consensus price that shows its work: which sources voted and why others did not.

Rules (issue 14, item 8):
- a quote from an ambiguous mapping does not vote while an unambiguous one exists;
- a stale quote (older than `STALE_AFTER_SECONDS`) does not vote while a fresh one exists;
- with three or more voters, one further from their median than both the divergence threshold
  (percent of the median) and 3 x the median absolute deviation is an outlier and does not vote;
- one voter: its price (`single`); two: their mean (`mean`); more: the median (`median`),
  exact Decimal rounded to 8 places (half to even).

The same rule gives the price `/assets` shows (at read time) and the one `asset_latest` stores
(when the asset's quotes change): see `domain/asset_summary.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Context, Decimal
from typing import NamedTuple, Protocol

_PLACES = Decimal("0.00000001")
_MAD_FACTOR = 3
# Prices run up to under 1e30 with 8 places: 38 digits, past the default 28-digit context
# (whose quantize would raise InvalidOperation and whose sums would round).
_WIDE = Context(prec=80)


class Vote(Protocol):
    """What the consensus reads of a source's latest quote of an asset."""

    @property
    def source(self) -> str: ...
    @property
    def price_usd(self) -> Decimal: ...
    @property
    def observed_at(self) -> datetime: ...
    @property
    def ambiguous(self) -> bool: ...


class SourceQuote(NamedTuple):
    source: str
    price_usd: Decimal
    observed_at: datetime
    ambiguous: bool = False


# Tuples rather than dataclasses: the consensus is computed for every asset a batch touches
# (20,000 in a full snapshot), and a frozen dataclass costs several times more to build.
class Excluded(NamedTuple):
    source: str
    reason: str  # "stale" | "outlier" | "ambiguous_mapping"
    price_usd: Decimal


class Consensus(NamedTuple):
    price_usd: Decimal | None
    method: str | None  # "median" | "mean" | "single"
    used: list[str]
    excluded: list[Excluded]


def _median(ordered: list[Decimal]) -> Decimal:
    """The median of values in ascending order, exact."""
    n = len(ordered)
    return _WIDE.divide(_WIDE.add(ordered[(n - 1) // 2], ordered[n // 2]), 2)


def _drop(quotes: list[Vote], out: list[Excluded], reason: str, bad: list[bool]) -> list[Vote]:
    """Drop the quotes marked `bad` (unless that would leave none), noting why."""
    if not any(bad) or all(bad):
        return quotes
    out += [Excluded(q.source, reason, q.price_usd) for q, b in zip(quotes, bad, strict=True) if b]
    return [q for q, b in zip(quotes, bad, strict=True) if not b]


def _outliers(quotes: list[Vote], threshold_pct: Decimal) -> list[bool]:
    median = _median(sorted(q.price_usd for q in quotes))
    if median <= 0:
        return []
    distances = [abs(_WIDE.subtract(q.price_usd, median)) for q in quotes]
    limit = _MAD_FACTOR * _median(sorted(distances))
    return [
        d > limit and _WIDE.divide(_WIDE.multiply(d, 100), median) > threshold_pct
        for d in distances
    ]


def _by_source(q: Vote) -> str:
    return q.source


def consensus(
    quotes: Sequence[Vote], now: datetime, stale_after: timedelta, threshold_pct: Decimal
) -> Consensus:
    """The consensus of each source's latest quote of one asset."""
    if len(quotes) == 1:  # what the rules below come to for one quote, without their cost
        (only,) = quotes
        price = only.price_usd.quantize(_PLACES, context=_WIDE)
        return Consensus(price, "single", [only.source], [])
    voters = sorted(quotes, key=_by_source)
    excluded: list[Excluded] = []
    voters = _drop(voters, excluded, "ambiguous_mapping", [q.ambiguous for q in voters])
    stale_before = now - stale_after
    voters = _drop(voters, excluded, "stale", [q.observed_at < stale_before for q in voters])
    if len(voters) >= 3:
        voters = _drop(voters, excluded, "outlier", _outliers(voters, threshold_pct))
    if not voters:
        return Consensus(None, None, [], [])
    method = {1: "single", 2: "mean"}.get(len(voters), "median")
    price = _median(sorted(q.price_usd for q in voters)).quantize(_PLACES, context=_WIDE)
    return Consensus(price, method, [q.source for q in voters], excluded)
