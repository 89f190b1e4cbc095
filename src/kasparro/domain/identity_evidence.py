"""Identity from evidence: how likely two sources' coins are one coin, as one pure score.

A pair's score adds up signals (weights below, calibrated on the curated CoinPaprika↔CoinGecko
map in `shared/fixtures/id_map_coinpaprika_to_coingecko_sample.json` and the recordings; see
`bench/identity_accuracy.py`):

- the same **contract** (platform, address): the strongest evidence there is;
- the same **ticker**;
- **name** similarity, token-based: distinctive words count fully, generic ones ("token",
  "network", "chain") little, and words that mark a different instrument ("wrapped", "bridged",
  "old", a chain in parentheses on one side only) count *against*;
- **price** and **market-cap** agreement between quotes observed close in time. Price counts
  only beside a ticker or name match (a wrapped token or any dollar stablecoin shares a price
  with what it copies); market cap is what separates WBTC from BTC and USDC from its bridged
  copies, whose caps are a small fraction of the original's.

Above `MERGE_AT` the coins are one asset; from `SUGGEST_AT` to `MERGE_AT` the pair is a
suggestion for a human; below, nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

MERGE_AT = 0.70
SUGGEST_AT = 0.40

W_CONTRACT = 0.90
W_TICKER = 0.30
W_NAME = 0.40  # times the similarity, 0..1
W_MARKER = -0.30  # one side wrapped/bridged/old, the other not
W_PRICE_CLOSE = 0.25  # within PRICE_CLOSE_PCT
W_PRICE_NEAR = 0.10  # within PRICE_NEAR_PCT
W_PRICE_FAR = -0.30  # beyond PRICE_FAR_PCT
W_CAP_CLOSE = 0.20  # within CAP_CLOSE_PCT
W_CAP_NEAR = 0.10  # within CAP_NEAR_PCT
W_CAP_FAR = -0.40  # one cap more than CAP_FAR_RATIO times the other

PRICE_CLOSE_PCT = Decimal("1")
PRICE_NEAR_PCT = Decimal("3")
PRICE_FAR_PCT = Decimal("10")
CAP_CLOSE_PCT = Decimal("10")
CAP_NEAR_PCT = Decimal("25")
CAP_FAR_RATIO = Decimal("3")
# A name counts as "matching" (letting price count) from this similarity up.
NAME_MATCH = 0.5
# A coin merged by evidence moves to another only for a score this much better (item 5).
MOVE_MARGIN = 0.10
# Two candidates of one coin this close in score, both above MERGE_AT, make it ambiguous.
AMBIGUOUS_MARGIN = 0.05

_WORDS = re.compile(r"[^\W_]+")
_PARENS = re.compile(r"[(\[][^)\]]*[)\]]")
GENERIC_WORDS = frozenset(
    {"token", "coin", "network", "protocol", "project", "dao", "hub", "chain", "finance", "the"}
    | {"of", "crypto"}
)
# Words that make a different instrument of the same name; "new" only renames.
MARKER_WORDS = frozenset(
    {"wrapped", "bridged", "bridge", "wormhole", "peg", "pegged", "old", "staked"}
)
_DROPPED = frozenset({"new"})
_GENERIC_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class Listing:
    """One source's coin with its latest quote and known contracts ((platform, address))."""

    source: str
    coin_id: str
    ticker: str
    name: str | None
    price_usd: Decimal | None = None
    market_cap_usd: Decimal | None = None
    observed_at: datetime | None = None
    contracts: frozenset[tuple[str, str]] = frozenset()

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.coin_id)


@dataclass(frozen=True, slots=True)
class NameParts:
    words: frozenset[str]
    markers: frozenset[str]
    joined: str  # every word run together: "MimbleWimbleCoin" == "Mimble Wimble Coin"


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    evidence: dict[str, Any] = field(default_factory=dict)


def _tokens(text: str) -> list[str]:
    return _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=65_536)  # pure, and every pass meets the same few thousand names
def name_parts(name: str | None) -> NameParts:
    """A name's distinctive words, its marker words and its run-together form."""
    text = name or ""
    inside = {w for group in _PARENS.findall(text) for w in _tokens(group)}
    words = [w for w in _tokens(_PARENS.sub(" ", text)) if w not in _DROPPED]
    markers = {w for w in [*words, *inside] if w in MARKER_WORDS}
    # a chain in parentheses on a bridged copy, "(Wormhole)", "(Core)", marks it too;
    # "(Old Chain)" and "[OLD]" are the same mark
    if inside - _DROPPED - MARKER_WORDS - GENERIC_WORDS:
        markers.add("qualified")
    plain = frozenset(w for w in words if w not in MARKER_WORDS)
    return NameParts(plain, frozenset(markers), "".join(w for w in words if w not in MARKER_WORDS))


def _weight(word: str) -> float:
    return _GENERIC_WEIGHT if word in GENERIC_WORDS else 1.0


def name_similarity(a: NameParts, b: NameParts) -> float:
    """Weighted Jaccard of the words (generic words light), 1.0 for the same run-together form."""
    if not a.joined or not b.joined:
        return 0.0
    if a.joined == b.joined:
        return 1.0
    shared = sum(_weight(w) for w in a.words & b.words)
    if not any(_weight(w) == 1.0 for w in a.words & b.words):
        return 0.0  # "Loom Network" and "Bitcoin Network" share only a generic word
    union = sum(_weight(w) for w in a.words | b.words)
    return round(shared / union, 4) if union else 0.0


def diff_pct(a: Decimal, b: Decimal) -> Decimal:
    """|a - b| in percent of the smaller (symmetric, so the pair's order does not matter)."""
    low = min(a, b)
    return abs(a - b) * 100 / low


def _usable(x: Decimal | None) -> bool:
    return x is not None and x > 0


def _quotes_comparable(a: Listing, b: Listing, max_skew: timedelta) -> bool:
    if a.observed_at is None or b.observed_at is None:
        return True  # callers that pass no times vouch the quotes are from one moment
    return abs(a.observed_at - b.observed_at) <= max_skew


def _price_points(a: Listing, b: Listing, evidence: dict[str, Any]) -> float:
    if not (_usable(a.price_usd) and _usable(b.price_usd)):
        return 0.0
    diff = diff_pct(a.price_usd, b.price_usd)  # type: ignore[arg-type]
    evidence["price_diff_pct"] = float(round(diff, 4))
    if diff <= PRICE_CLOSE_PCT:
        return W_PRICE_CLOSE
    if diff <= PRICE_NEAR_PCT:
        return W_PRICE_NEAR
    return W_PRICE_FAR if diff > PRICE_FAR_PCT else 0.0


def _cap_points(a: Listing, b: Listing, evidence: dict[str, Any]) -> float:
    if not (_usable(a.market_cap_usd) and _usable(b.market_cap_usd)):
        return 0.0
    diff = diff_pct(a.market_cap_usd, b.market_cap_usd)  # type: ignore[arg-type]
    evidence["market_cap_diff_pct"] = float(round(diff, 2))
    if diff <= CAP_CLOSE_PCT:
        return W_CAP_CLOSE
    if diff <= CAP_NEAR_PCT:
        return W_CAP_NEAR
    return W_CAP_FAR if diff > (CAP_FAR_RATIO - 1) * 100 else 0.0


def score_pair(
    a: Listing,
    b: Listing,
    max_skew: timedelta,
    names: Mapping[tuple[str, str], NameParts] | None = None,
) -> Score:
    """How likely `a` and `b` (coins of two sources) are one coin: 0..1, with the evidence."""
    evidence: dict[str, Any] = {}
    points = 0.0
    shared = sorted(a.contracts & b.contracts)
    if shared:
        evidence["contract"] = f"{shared[0][0]}:{shared[0][1]}"
        points += W_CONTRACT
    ticker = a.ticker.casefold() == b.ticker.casefold()
    evidence["ticker"] = ticker
    points += W_TICKER if ticker else 0.0
    na = names[a.key] if names else name_parts(a.name)
    nb = names[b.key] if names else name_parts(b.name)
    similarity = name_similarity(na, nb)
    evidence["name"] = similarity
    points += W_NAME * similarity
    if na.markers != nb.markers:
        evidence["marker"] = sorted(na.markers ^ nb.markers)
        points += W_MARKER
    if _quotes_comparable(a, b, max_skew):
        if ticker or similarity >= NAME_MATCH or shared:
            points += _price_points(a, b, evidence)
        points += _cap_points(a, b, evidence)
    return Score(round(min(max(points, 0.0), 1.0), 4), evidence)


def is_evm_address(address: str) -> bool:
    return len(address) == 42 and address[:2].lower() == "0x"


def contract_key(platform: str, address: str) -> tuple[str, str]:
    """(platform, address) as compared: EVM hex addresses case-insensitively, others exactly."""
    address = address.strip()
    return (platform, address.lower() if is_evm_address(address) else address)


def should_move(current_score: float | None, new_score: float) -> bool:
    """A mapping made by evidence gives way only to a better score by `MOVE_MARGIN`.

    A mapping without a score (made by the rules, or new) yields to any merge.
    """
    return current_score is None or new_score >= current_score + MOVE_MARGIN


def sorted_by_score(pairs: Iterable[tuple[float, str, str]]) -> list[tuple[float, str, str]]:
    """Best first; ties by the coin ids, so the result never depends on input order."""
    return sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))
