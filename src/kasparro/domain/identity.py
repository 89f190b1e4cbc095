"""Canonical identity: which asset a source's coin is, decided by pure rules.

Resolution, in order (README "Identity"):
1. an override from the mapping file;
2. a coin of another source with the same ticker and the same name key;
3. for a ticker-only coin (a CSV row without a name): the asset of that ticker if only one
   exists, else the largest by market cap, recorded as ambiguous;
4. otherwise a new asset of its own.
Two coins of one source are never put on one asset by the rules: each source already
tells its coins apart, so a second coin with the same ticker and name is a different coin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

ASSET_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"
_ASSET_ID = re.compile(ASSET_ID_PATTERN)
_WORDS = re.compile(r"[^\W_]+")
# Endings that sources add to or drop from the same coin's name ("Basic Attention Token" at
# CoinPaprika, "Basic Attention" at CoinGecko; "Mimble Wimble Coin", "MimbleWimbleCoin").
GENERIC_SUFFIXES = ("token", "coin", "network", "protocol", "project", "dao", "hub")
_MIN_KEY = 3  # "Bitcoin" keys as "bit": never shorter, so "Coin" stays "coin"


class Method:
    """How a coin got its asset; stored in `asset_mappings.method`."""

    OVERRIDE = "override"
    NAME = "ticker_and_name"
    TICKER = "ticker"
    LARGEST = "ticker_largest_market_cap"
    NEW = "new"
    EVIDENCE = "evidence"


@dataclass(frozen=True, slots=True)
class Coin:
    """One source's coin as the latest quote describes it."""

    source: str
    coin_id: str
    ticker: str
    name: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.coin_id)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An existing asset that a coin might be: one of its coins' ticker and name key."""

    asset_id: str
    source: str
    ticker: str
    name: str | None
    market_cap_usd: Decimal | None


@dataclass(frozen=True, slots=True)
class Resolution:
    asset_id: str
    method: str
    ambiguous: bool = False


def _words(name: str) -> list[str]:
    return _WORDS.findall(unicodedata.normalize("NFKC", name).casefold())


def exact_name(name: str | None) -> str | None:
    """The name with case, spacing and punctuation ignored: `Crypto.com` -> `cryptocom`."""
    return "".join(_words(name or "")) or None


def name_key(name: str | None) -> str | None:
    """`exact_name` without generic endings: the form two sources' names are matched on."""
    key = exact_name(name)
    stripped = True
    while key and stripped:
        stripped = False
        for suffix in GENERIC_SUFFIXES:
            if key.endswith(suffix) and len(key) - len(suffix) >= _MIN_KEY:
                key, stripped = key[: -len(suffix)], True
                break
    return key


def asset_slug(coin: Coin) -> str:
    """A readable id from the name (`Bitcoin Cash` -> `bitcoin-cash`), else the ticker."""
    for text in (coin.name, coin.ticker, f"{coin.source} {coin.coin_id}"):
        words = [w for w in _words(text or "") if w.isascii()]
        slug = "-".join(words)[:60].strip("-")
        if slug:
            return slug
    return "asset"


def fresh_asset_id(coin: Coin, taken: set[str]) -> str:
    """The coin's slug, made unique with its ticker and then a counter."""
    base = asset_slug(coin)
    ticker = "-".join(w for w in _words(coin.ticker) if w.isascii())
    tries = [base] + ([f"{base}-{ticker}"] if ticker and ticker != base else [])
    for candidate in tries:
        if candidate not in taken:
            return candidate
    n = 2
    while f"{tries[-1]}-{n}" in taken:
        n += 1
    return f"{tries[-1]}-{n}"


def is_valid_asset_id(value: str) -> bool:
    return bool(_ASSET_ID.match(value))


def resolve(
    coin: Coin,
    candidates: Sequence[Candidate],
    taken: set[str],
    api_sources: Iterable[str],
) -> Resolution:
    """Rules 2-4 for one coin (rule 1, the override, is the caller's).

    `candidates` are the coins of other assets that share `coin`'s ticker; `taken` the
    asset ids in use; `api_sources` the sources whose coins carry a real identity.
    """
    others = [c for c in candidates if c.ticker == coin.ticker]
    own_sources: dict[str, set[str]] = {}
    for c in others:
        own_sources.setdefault(c.asset_id, set()).add(c.source)
    # never a second coin of the same source on one asset
    eligible = [c for c in others if coin.source not in own_sources[c.asset_id]]
    if coin.name:
        # the exact name first: "Compound" is Compound, not "Compound Coin"
        for same in (exact_name, name_key):
            wanted = same(coin.name)
            named = _largest_by_asset(c for c in eligible if same(c.name) == wanted)
            if named:
                return Resolution(named[0], Method.NAME, ambiguous=len(named) > 1)
    else:
        api = set(api_sources)
        by_ticker = _largest_by_asset(c for c in eligible if c.source in api)
        if by_ticker:
            method = Method.TICKER if len(by_ticker) == 1 else Method.LARGEST
            return Resolution(by_ticker[0], method, ambiguous=len(by_ticker) > 1)
    return Resolution(fresh_asset_id(coin, taken), Method.NEW)


def _largest_by_asset(candidates: Iterable[Candidate]) -> list[str]:
    """Asset ids by their largest known market cap (unknown last), then by id: stable."""
    caps: dict[str, Decimal | None] = {}
    for c in candidates:
        current = caps.get(c.asset_id)
        if c.asset_id not in caps or (
            c.market_cap_usd is not None and (current is None or current < c.market_cap_usd)
        ):
            caps[c.asset_id] = c.market_cap_usd
    return sorted(caps, key=lambda a: (caps[a] is None, -(caps[a] or 0), a))
