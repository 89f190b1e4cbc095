"""Comparing two runs of one source, and the anomaly flags that say "this looks wrong".

Pure: the caller fetches both runs' counts and per-coin quotes. Percentages are exact
`Decimal`s rounded to 2 places; prices are never floats.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from typing import Any, Protocol

RECORD_DROP_THRESHOLD = Decimal("0.20")  # record count down more than 20%
PRICE_MOVE_THRESHOLD = Decimal("0.50")  # a move of more than 50%...
TOP_COINS = 100  # ...for one of the top 100 coins by market cap
SLOW_FACTOR = 3  # duration over 3x the median...
SLOW_WINDOW = 10  # ...of the last 10 runs
MOVERS_SHOWN = 10
COINS_LISTED = 100

_CENT = Decimal("0.01")
# Prices run from 1e-8 to under 1e30, so a move can be ~1e40 percent: 42 digits at 2 places,
# past the default 28-digit context (whose quantize would raise InvalidOperation).
_WIDE = Context(prec=80)


class CoinQuote(Protocol):
    @property
    def ticker(self) -> str: ...
    @property
    def price_usd(self) -> Decimal: ...
    @property
    def market_cap_usd(self) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class RunFacts:
    id: int
    source: str
    status: str
    processed: int
    failed: int
    duration_ms: int | None

    @property
    def failure_rate(self) -> Fraction:
        seen = self.processed + self.failed
        return Fraction(self.failed, seen) if seen else Fraction(0)


def percent(new: Decimal, old: Decimal) -> Decimal:
    """(new - old) / old in percent, 2 places, however large."""
    ratio = _WIDE.divide(_WIDE.subtract(new, old), old)
    return _WIDE.multiply(ratio, 100).quantize(_CENT, ROUND_HALF_EVEN, _WIDE)


def _rate(value: Fraction) -> Decimal:
    ratio = _WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))
    return _WIDE.multiply(ratio, 100).quantize(_CENT, context=_WIDE)


def top_coins(quotes: Mapping[str, CoinQuote], n: int = TOP_COINS) -> set[str]:
    """Record ids of the `n` largest market caps (coins without one never rank)."""
    ranked = sorted(
        ((q.market_cap_usd, rid) for rid, q in quotes.items() if q.market_cap_usd is not None),
        reverse=True,
    )
    return {rid for _, rid in ranked[:n]}


def _price_changes(a: Mapping[str, CoinQuote], b: Mapping[str, CoinQuote]) -> list[dict[str, Any]]:
    changes = []
    for rid in sorted(a.keys() & b.keys()):
        old, new = a[rid].price_usd, b[rid].price_usd
        if old > 0:
            change = percent(new, old)
            changes.append(
                {
                    "id": rid,
                    "ticker": b[rid].ticker,
                    "price_a": old,
                    "price_b": new,
                    "change_pct": change,
                }
            )
    return changes


def _coins(ids: set[str], quotes: Mapping[str, CoinQuote]) -> list[dict[str, str]]:
    return [{"id": rid, "ticker": quotes[rid].ticker} for rid in sorted(ids)[:COINS_LISTED]]


def _flag(flag: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"flag": flag, "message": message, **extra}


def anomalies(
    a: RunFacts,
    b: RunFacts,
    changes: Sequence[dict[str, Any]],
    top: set[str],
    recent_durations: Sequence[int],
) -> list[dict[str, Any]]:
    """The flags raised by `b` against its baseline `a`, in a fixed order."""
    flags: list[dict[str, Any]] = []
    if a.processed and Decimal(b.processed) < Decimal(a.processed) * (1 - RECORD_DROP_THRESHOLD):
        drop = -percent(Decimal(b.processed), Decimal(a.processed))
        counts = f"{a.processed} -> {b.processed}"
        flags.append(_flag("record_count_drop", f"records processed down {drop}% ({counts})"))
    if b.failure_rate > a.failure_rate:
        rates = f"{_rate(a.failure_rate)}% to {_rate(b.failure_rate)}%"
        flags.append(_flag("failure_rate_up", f"failure rate up from {rates}"))
    limit = PRICE_MOVE_THRESHOLD * 100
    movers = [c for c in changes if c["id"] in top and abs(c["change_pct"]) > limit]
    if movers:
        shown = ", ".join(f"{c['ticker']} {c['change_pct']:+}%" for c in movers[:MOVERS_SHOWN])
        message = f"top-{TOP_COINS} coins moved over {limit:.0f}%: {shown}"
        flags.append(_flag("price_move", message, coins=[c["id"] for c in movers]))
    if recent_durations and b.duration_ms is not None:
        median = statistics.median(recent_durations)
        if b.duration_ms > SLOW_FACTOR * median:
            message = (
                f"took {b.duration_ms} ms, over {SLOW_FACTOR}x the median {median:g} ms "
                f"of the last {len(recent_durations)} runs"
            )
            flags.append(_flag("slow_run", message))
    return flags


def compare(
    a: RunFacts,
    b: RunFacts,
    quotes_a: Mapping[str, CoinQuote],
    quotes_b: Mapping[str, CoinQuote],
    recent_durations: Sequence[int],
) -> dict[str, Any]:
    """Counts, duration, coins added and removed, price changes and anomaly flags of b vs a."""
    changes = _price_changes(quotes_a, quotes_b)
    added, removed = quotes_b.keys() - quotes_a.keys(), quotes_a.keys() - quotes_b.keys()
    movers = sorted(changes, key=lambda c: (-abs(c["change_pct"]), c["id"]))[:MOVERS_SHOWN]
    median = statistics.median(c["change_pct"] for c in changes) if changes else None
    return {
        "counts": {
            "processed": {"a": a.processed, "b": b.processed, "change": b.processed - a.processed},
            "failed": {"a": a.failed, "b": b.failed, "change": b.failed - a.failed},
            "failure_rate_pct": {"a": _rate(a.failure_rate), "b": _rate(b.failure_rate)},
        },
        "duration_ms": {
            "a": a.duration_ms,
            "b": b.duration_ms,
            "median_of_previous": statistics.median(recent_durations) if recent_durations else None,
        },
        "coins": {
            "a": len(quotes_a),
            "b": len(quotes_b),
            "added_count": len(added),
            "removed_count": len(removed),
            "added": _coins(added, quotes_b),
            "removed": _coins(removed, quotes_a),
        },
        "prices": {
            "compared": len(changes),
            "median_change_pct": (
                None if median is None else Decimal(median).quantize(_CENT, context=_WIDE)
            ),
            "largest_movers": movers,
        },
        "anomalies": anomalies(a, b, changes, top_coins(quotes_a), recent_durations),
    }
